"""Array/tensor bridges, image_info and is_image_path."""

from __future__ import annotations

import numpy as np
import pytest
from io_builders import blocks_rgb, camera_exif, make_dng, png_header_only, srgb_icc
from PIL import Image

from restora.errors import ImageReadError, InvalidParameterError, ShapeError
from restora.io import (
    SUPPORTED_READ_SUFFIXES,
    SUPPORTED_WRITE_SUFFIXES,
    from_float32,
    from_tensor,
    image_info,
    is_image_path,
    to_float32,
    to_tensor,
    write_image,
)

# --- bridges ----------------------------------------------------------------------------------


def test_integer_round_trips_are_exact_for_every_value():
    all8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    all16 = np.arange(65536, dtype=np.uint32).astype(np.uint16).reshape(256, 256)
    f8, f16 = to_float32(all8), to_float32(all16)
    assert f8.shape == (16, 16, 1) and f8.dtype == np.float32
    assert f8[0, 1, 0] == np.float32(1 / 255) and f16[-1, -1, 0] == 1.0
    np.testing.assert_array_equal(from_float32(f8)[..., 0], all8)
    np.testing.assert_array_equal(from_float32(f16, np.uint16)[..., 0], all16)


def test_to_float32_handles_bool_and_float_and_never_aliases():
    mask = np.array([[True, False]])
    np.testing.assert_array_equal(to_float32(mask)[..., 0], [[1.0, 0.0]])
    source = np.full((2, 2, 3), 0.25, np.float64)
    out = to_float32(source)
    out[...] = 0.0
    assert out.dtype == np.float32 and source[0, 0, 0] == 0.25
    same = np.full((2, 2, 3), 0.5, np.float32)
    assert not np.shares_memory(to_float32(same), same)


def test_bridge_errors():
    with pytest.raises(InvalidParameterError, match="int32"):
        to_float32(np.zeros((2, 2), np.int32))
    with pytest.raises(ShapeError, match=r"\(2, 2, 2, 2\)"):
        to_float32(np.zeros((2, 2, 2, 2), np.uint8))
    with pytest.raises(InvalidParameterError, match="uint8 or numpy.uint16"):
        from_float32(np.zeros((2, 2, 1), np.float32), np.int16)
    with pytest.raises(InvalidParameterError, match="NaN"):
        from_float32(np.array([[np.nan]], np.float32))


def test_tensor_bridge_layout_values_and_ownership():
    torch = pytest.importorskip("torch")
    image = blocks_rgb()
    tensor = to_tensor(image)
    assert tensor.shape == (1, 3, 32, 48) and tensor.dtype == torch.float32
    assert float(tensor[0, 0, 0, 0]) == pytest.approx(230 / 255)
    assert float(tensor[0, 2, 0, 40]) == pytest.approx(230 / 255)  # blue block, blue channel
    back = from_tensor(tensor)
    assert back.shape == (1, 32, 48, 3)  # NCHW -> NHWC, also for a batch of one
    back = back[0]
    np.testing.assert_array_equal(back, to_float32(image))
    tensor.zero_()
    assert back.max() > 0  # no shared memory
    gray = to_tensor(np.zeros((5, 6), np.float32), dtype=torch.float64)
    assert gray.shape == (1, 1, 5, 6) and gray.dtype == torch.float64
    assert from_tensor(torch.ones(1, 5, 6)).shape == (5, 6, 1)  # CHW
    batch = to_tensor(np.zeros((2, 4, 4, 3), np.uint8))
    assert batch.shape == (2, 3, 4, 4) and from_tensor(batch).shape == (2, 4, 4, 3)
    with pytest.raises(ShapeError, match=r"\(4, 4\)"):
        from_tensor(torch.zeros(4, 4))


# --- image_info -------------------------------------------------------------------------------


def test_image_info_reports_upright_size_icc_and_exif(tmp_path):
    src = tmp_path / "camera.jpg"
    Image.fromarray(blocks_rgb()).save(src, exif=camera_exif(6), icc_profile=srgb_icc())
    info = image_info(src)
    assert info["format"] == "JPEG"
    assert (info["width"], info["height"]) == (32, 48)  # stored 48x32, orientation 6
    assert info["channels"] == 3 and info["bit_depth"] == 8 and info["mode"] == "RGB"
    assert info["has_alpha"] is False and info["orientation"] == 6
    assert info["icc"] == "sRGB built-in"
    assert info["exif"] == {
        "Make": "Canon", "Model": "EOS R5", "DateTimeOriginal": "2024:05:06 07:08:09",
        "ExposureTime": pytest.approx(1 / 250), "FNumber": pytest.approx(2.8), "ISO": 400,
        "Orientation": 6,
    }


def test_image_info_does_not_decode_pixels(tmp_path):
    bomb = png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    info = image_info(bomb)
    assert (info["width"], info["height"], info["bit_depth"]) == (100_000, 100_000, 8)


def test_image_info_depth_alpha_and_formats(tmp_path):
    rgba16 = np.random.default_rng(0).integers(0, 65536, (4, 5, 4), dtype=np.uint16)
    info = image_info(write_image(rgba16, tmp_path / "a.png"))
    assert (info["bit_depth"], info["channels"], info["mode"], info["has_alpha"]) == (
        16, 4, "RGBA", True)
    info = image_info(write_image(np.zeros((4, 5), np.float32), tmp_path / "f.tif", bit_depth=32))
    assert (info["format"], info["bit_depth"], info["mode"]) == ("TIFF", 32, "L")
    assert image_info(write_image(blocks_rgb(), tmp_path / "w.webp"))["format"] == "WEBP"
    with pytest.raises(ImageReadError, match="empty file"):
        (tmp_path / "e.png").write_bytes(b"")
        image_info(tmp_path / "e.png")


def test_image_info_on_dng(tmp_path):
    pytest.importorskip("rawpy")
    info = image_info(make_dng(tmp_path / "x.dng", orientation=6))
    assert (info["format"], info["width"], info["height"], info["bit_depth"]) == (
        "RAW", 32, 48, 16)


def test_is_image_path():
    assert is_image_path("a/b/IMG_0001.JPG") and is_image_path("x.Dng") and is_image_path("y.heic")
    assert not is_image_path("notes.txt") and not is_image_path("._IMG_0001.jpg")
    assert not is_image_path(".out.png.abc123.tmp") and not is_image_path("folder")
    assert ".cr3" in SUPPORTED_READ_SUFFIXES and ".tiff" in SUPPORTED_WRITE_SUFFIXES
