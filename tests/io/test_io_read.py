"""read_image: layouts, depths, orientation, metadata, bad inputs, HEIC, RAW."""

from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np
import pytest
import tifffile
from io_builders import (
    assert_names_file,
    blocks_rgb,
    camera_exif,
    listing,
    make_dng,
    png_header_only,
    srgb_icc,
)
from PIL import Image, ImageFile, ImageOps

from restora.errors import (
    DecompressionBombError,
    ImageReadError,
    InvalidParameterError,
    MissingExtraError,
    UnsupportedFormatError,
)
from restora.io import from_float32, read_image, write_image

# --- orientation and metadata ------------------------------------------------------------------


def test_jpeg_orientation_6_is_read_upright_and_metadata_round_trips(tmp_path):
    stored = blocks_rgb()  # 32 high, 48 wide; top-left block red
    icc = srgb_icc()
    src = tmp_path / "camera.jpg"
    Image.fromarray(stored).save(src, quality=95, exif=camera_exif(6), icc_profile=icc)

    photo = read_image(src)
    # Orientation 6 = rotate 90 degrees clockwise: 48 high, 32 wide, top-left block -> top-right.
    assert photo.pixels.shape == (48, 32, 3)
    with Image.open(src) as im:
        expected = np.asarray(ImageOps.exif_transpose(im)).astype(np.float32) / 255
    np.testing.assert_array_equal(photo.pixels, expected)
    top_right = photo.pixels[2:14, 18:30].reshape(-1, 3).mean(0) * 255
    np.testing.assert_allclose(top_right, [230, 20, 20], atol=6)
    bottom_right = photo.pixels[34:46, 18:30].reshape(-1, 3).mean(0) * 255  # stored top-right
    np.testing.assert_allclose(bottom_right, [20, 20, 230], atol=6)  # blue
    top_left = photo.pixels[2:14, 2:14].reshape(-1, 3).mean(0) * 255  # stored bottom-left
    np.testing.assert_allclose(top_left, [230, 230, 20], atol=6)  # yellow

    # EXIF rewritten in place: only the orientation value differs from the file's block.
    with Image.open(src) as im:
        original_exif = im.info["exif"]
    assert len(photo.metadata.exif) == len(original_exif)
    differing = [i for i, (a, b) in enumerate(zip(photo.metadata.exif, original_exif)) if a != b]
    assert len(differing) == 1
    assert photo.metadata.icc == icc

    out = write_image(photo, tmp_path / "out" / "restored.jpg")
    with Image.open(src) as im_in, Image.open(out) as im_out:
        exif_in, exif_out = im_in.getexif(), im_out.getexif()
        assert exif_in[0x0112] == 6 and exif_out[0x0112] == 1
        assert {k: v for k, v in exif_out.items() if k not in (0x0112, 0x8769)} == {
            k: v for k, v in exif_in.items() if k not in (0x0112, 0x8769)
        }
        assert dict(exif_out.get_ifd(0x8769)) == dict(exif_in.get_ifd(0x8769))
        assert dict(exif_out.get_ifd(0x8769))[0x8827] == 400
        assert im_out.info["icc_profile"] == icc
        assert im_out.size == (32, 48)  # written upright, orientation 1: no double rotation
    again = read_image(out)
    assert again.pixels.shape == (48, 32, 3)
    assert np.abs(again.pixels - photo.pixels).mean() < 2 / 255


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow_exif_transpose(tmp_path, orientation):
    rng = np.random.default_rng(orientation)
    stored = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(stored).save(path, exif=camera_exif(orientation))
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    photo = read_image(path)
    np.testing.assert_array_equal(from_float32(photo.pixels), expected)
    parsed = Image.Exif()
    parsed.load(photo.metadata.exif[6:])
    assert parsed[0x0112] == 1 and parsed[0x010F] == "Canon"


def test_xmp_orientation_is_used_when_exif_has_none(tmp_path):
    from PIL import PngImagePlugin

    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           '02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
           'tiff:Orientation="8"/></rdf:RDF></x:xmpmeta>')
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp)
    stored = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = tmp_path / "xmp.png"
    Image.fromarray(stored).save(path, pnginfo=info)
    photo = read_image(path)
    np.testing.assert_array_equal(from_float32(photo.pixels[..., 0]), np.rot90(stored, 1))
    assert b'tiff:Orientation="1"' in photo.metadata.xmp


def test_tiff_orientation_tag_is_applied(tmp_path):
    stored = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = tmp_path / "o3.tif"
    tifffile.imwrite(path, stored, extratags=[(274, "H", 1, 3, True)], metadata=None)
    photo = read_image(path)
    np.testing.assert_array_equal(from_float32(photo.pixels[..., 0]), stored[::-1, ::-1])


# --- depths and layouts -------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_png_round_trips_exactly(tmp_path, channels):
    import cv2

    rng = np.random.default_rng(channels)
    values = rng.integers(0, 65536, (9, 11, channels), dtype=np.uint16)
    values[0, 0] = 65535
    values[0, 1] = 0
    src = tmp_path / "in16.png"
    if channels == 1:
        Image.fromarray(values[..., 0]).save(src)  # Pillow I;16
    elif channels == 3:
        cv2.imwrite(str(src), values[..., ::-1])
    else:
        write_image(values, src)  # restora's own 16-bit writer (gray+alpha, RGBA)
    photo = read_image(src)
    assert photo.bit_depth == 16
    colours = 1 if channels in (1, 2) else 3
    assert photo.channels == colours
    assert (photo.alpha is not None) == (channels in (2, 4))
    np.testing.assert_array_equal(from_float32(photo.pixels, np.uint16), values[..., :colours])
    if photo.alpha is not None:
        np.testing.assert_array_equal(from_float32(photo.alpha, np.uint16), values[..., -1:])

    out = write_image(photo, tmp_path / "out16.png")
    decoded = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)  # an independent decoder
    assert decoded.dtype == np.uint16
    again = read_image(out)
    np.testing.assert_array_equal(again.pixels, photo.pixels)
    if photo.alpha is not None:
        np.testing.assert_array_equal(again.alpha, photo.alpha)
    if channels == 3:
        np.testing.assert_array_equal(decoded[..., ::-1], values)


@pytest.mark.parametrize("channels", [1, 3])
def test_16bit_tiff_round_trips_exactly(tmp_path, channels):
    rng = np.random.default_rng(10 + channels)
    shape = (8, 13) if channels == 1 else (8, 13, 3)
    values = rng.integers(0, 65536, shape, dtype=np.uint16)
    src = tmp_path / "in16.tif"
    tifffile.imwrite(src, values, photometric="minisblack" if channels == 1 else "rgb")
    photo = read_image(src)
    assert photo.bit_depth == 16 and photo.channels == channels
    np.testing.assert_array_equal(
        from_float32(photo.pixels, np.uint16).reshape(shape), values)
    out = write_image(photo, tmp_path / "out16.tif")
    np.testing.assert_array_equal(tifffile.imread(out), values)
    np.testing.assert_array_equal(read_image(out).pixels, photo.pixels)


def test_float32_tiff_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(3)
    values = rng.random((6, 7, 3), dtype=np.float32)
    src = tmp_path / "float.tif"
    tifffile.imwrite(src, values, photometric="rgb")
    photo = read_image(src)
    assert photo.bit_depth == 32
    np.testing.assert_array_equal(photo.pixels, values)
    out = write_image(photo, tmp_path / "float_out.tif")
    written = tifffile.imread(out)
    assert written.dtype == np.float32
    np.testing.assert_array_equal(written, values)


def test_float_tiff_out_of_range_is_clipped(tmp_path):
    values = np.array([[-0.5, 0.25, 2.0, np.nan]], np.float32)
    src = tmp_path / "hdr.tif"
    tifffile.imwrite(src, values)
    np.testing.assert_array_equal(read_image(src).pixels[..., 0], [[0.0, 0.25, 1.0, 0.0]])


def test_lzw_tiff_without_imagecodecs_falls_back_to_pillow(tmp_path):
    stored = blocks_rgb()
    src = tmp_path / "lzw.tif"
    Image.fromarray(stored).save(src, compression="tiff_lzw")
    np.testing.assert_array_equal(from_float32(read_image(src).pixels), stored)


def test_rgba_png_keeps_alpha_exactly(tmp_path):
    rng = np.random.default_rng(5)
    rgba = rng.integers(0, 256, (10, 12, 4), dtype=np.uint8)
    rgba[..., 3] = np.arange(120).reshape(10, 12) * 2
    src = tmp_path / "rgba.png"
    Image.fromarray(rgba).save(src)
    photo = read_image(src)
    assert photo.channels == 3 and photo.alpha.shape == (10, 12, 1)
    np.testing.assert_array_equal(from_float32(photo.alpha[..., 0]), rgba[..., 3])
    np.testing.assert_array_equal(from_float32(photo.pixels), rgba[..., :3])
    out = write_image(photo, tmp_path / "rgba_out.png")
    with Image.open(out) as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im), rgba)


def test_gray_and_gray_alpha_png(tmp_path):
    gray = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    Image.fromarray(gray).save(tmp_path / "g.png")
    photo = read_image(tmp_path / "g.png")
    assert photo.pixels.shape == (6, 10, 1) and photo.alpha is None
    np.testing.assert_array_equal(from_float32(photo.pixels[..., 0]), gray)
    la = Image.fromarray(np.dstack([gray, 255 - gray]))
    la.save(tmp_path / "la.png")
    photo = read_image(tmp_path / "la.png")
    assert photo.channels == 1
    np.testing.assert_array_equal(from_float32(photo.alpha[..., 0]), 255 - gray)


def test_palette_png_reads_as_rgb_and_transparent_palette_as_rgba(tmp_path):
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9)
    index = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    image = Image.frombytes("P", (3, 2), index.tobytes())
    image.putpalette(palette)
    image.save(tmp_path / "p.png")
    photo = read_image(tmp_path / "p.png")
    assert photo.channels == 3 and photo.alpha is None
    np.testing.assert_array_equal(
        from_float32(photo.pixels), np.array(palette[:9], np.uint8).reshape(3, 3)[index])
    image.save(tmp_path / "pt.png", transparency=1)
    photo = read_image(tmp_path / "pt.png")
    np.testing.assert_array_equal(from_float32(photo.alpha[..., 0]), (index != 1) * 255)


@pytest.mark.parametrize("suffix", [".tif", ".jpg"])
def test_cmyk_reads_as_rgb_with_the_naive_formula(tmp_path, suffix):
    cmyk = np.zeros((16, 32, 4), np.uint8)
    cmyk[:, :8] = [0, 0, 0, 0]  # white
    cmyk[:, 8:16] = [255, 0, 0, 0]  # cyan
    cmyk[:, 16:24] = [0, 0, 0, 255]  # black
    cmyk[:, 24:] = [0, 128, 0, 64]  # R = 255 - 64 = 191, G = (127/255) * 191 = 95
    src = tmp_path / f"cmyk{suffix}"
    Image.fromarray(cmyk, mode="CMYK").save(src, **({"quality": 100} if suffix == ".jpg" else {}))
    photo = read_image(src)
    assert photo.channels == 3
    rgb = from_float32(photo.pixels).astype(int)
    tol = 0 if suffix == ".tif" else 4
    for cols, expected in ((slice(2, 6), [255, 255, 255]), (slice(10, 14), [0, 255, 255]),
                           (slice(18, 22), [0, 0, 0]), (slice(26, 30), [191, 95, 191])):
        np.testing.assert_allclose(rgb[4:12, cols].reshape(-1, 3), np.broadcast_to(
            expected, (32, 3)), atol=max(tol, 1))


def test_format_is_sniffed_from_content_not_suffix(tmp_path):
    stored = blocks_rgb()
    misnamed = tmp_path / "really_a_png.jpg"
    Image.fromarray(stored).save(misnamed, format="PNG")
    photo = read_image(misnamed)
    assert photo.format == "PNG"
    np.testing.assert_array_equal(from_float32(photo.pixels), stored)


def test_bmp_and_lossless_webp_read_exactly(tmp_path):
    stored = blocks_rgb()
    Image.fromarray(stored).save(tmp_path / "a.bmp")
    Image.fromarray(stored).save(tmp_path / "a.webp", lossless=True)
    for name in ("a.bmp", "a.webp"):
        photo = read_image(tmp_path / name)
        np.testing.assert_array_equal(from_float32(photo.pixels), stored)


def test_pillow_limits_are_ours_and_restored(tmp_path, monkeypatch):
    Image.fromarray(blocks_rgb()).save(tmp_path / "a.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow alone would refuse 32x48
    assert read_image(tmp_path / "a.png").pixels.shape == (32, 48, 3)
    assert Image.MAX_IMAGE_PIXELS == 100
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --- bad inputs ---------------------------------------------------------------------------------


def _convert(src, out):
    return write_image(read_image(src), out)


def _jpeg_bytes():
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)).save(
        buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _png_bytes():
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)).save(
        buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "error", "phrase"),
    [
        ("empty.jpg", b"", ImageReadError, "empty file"),
        ("notes.png", b"shopping list: eggs, milk\n", ImageReadError, "not an image"),
        ("cut.jpg", None, ImageReadError, "truncated"),
        ("cut.png", None, ImageReadError, "truncated"),
        ("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", UnsupportedFormatError, "GIF"),
    ],
)
def test_bad_inputs_raise_one_clear_error_and_leave_no_output(tmp_path, name, content, error,
                                                              phrase):
    if content is None:
        whole = _jpeg_bytes() if name.endswith(".jpg") else _png_bytes()
        content = whole[: len(whole) // 2]
    src = tmp_path / name
    src.write_bytes(content)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(error) as excinfo:
        _convert(src, out_dir / "result.png")
    assert phrase in str(excinfo.value)
    assert_names_file(excinfo, src)
    assert listing(out_dir) == []


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ImageReadError, match="file not found") as excinfo:
        read_image(tmp_path / "nope.jpg")
    assert_names_file(excinfo, tmp_path / "nope.jpg")


def test_png_bomb_header_fails_fast_without_allocating(tmp_path):
    src = png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    out_dir = tmp_path / "out"
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(DecompressionBombError) as excinfo:
        _convert(src, out_dir / "result.png")
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 5_000_000
    assert "100000x100000" in str(excinfo.value) and "RESTORA_MAX_PIXELS" in str(excinfo.value)
    assert_names_file(excinfo, src)
    assert not out_dir.exists()


def test_pixel_limit_argument_and_environment(tmp_path, monkeypatch):
    src = tmp_path / "a.png"
    Image.fromarray(blocks_rgb()).save(src)  # 1536 pixels
    with pytest.raises(DecompressionBombError, match="0.0 megapixels"):
        read_image(src, max_pixels=1000)
    assert read_image(src, max_pixels=1536).width == 48
    monkeypatch.setenv("RESTORA_MAX_PIXELS", "1000")
    with pytest.raises(DecompressionBombError):
        read_image(src)
    assert read_image(src, max_pixels=2000).width == 48  # the argument wins
    monkeypatch.setenv("RESTORA_MAX_PIXELS", "lots")
    with pytest.raises(InvalidParameterError, match="RESTORA_MAX_PIXELS='lots'"):
        read_image(src)
    with pytest.raises(InvalidParameterError, match="positive"):
        read_image(src, max_pixels=0)


# --- HEIC -----------------------------------------------------------------------------------


def test_heic_round_trip_keeps_exif_and_icc(tmp_path):
    pytest.importorskip("pillow_heif")
    src = tmp_path / "camera.png"
    Image.fromarray(blocks_rgb()).save(src, exif=camera_exif(1), icc_profile=srgb_icc())
    photo = read_image(src)
    import pillow_heif

    if not pillow_heif.libheif_info().get("encoders"):  # pragma: no cover - libheif build
        pytest.skip("this pillow-heif build has no HEIC encoder")
    out = write_image(photo, tmp_path / "photo.heic", quality=95)
    back = read_image(out)
    assert back.format == "HEIF" and back.pixels.shape == photo.pixels.shape
    mse = float(np.mean((back.pixels - photo.pixels) ** 2))
    assert 10 * np.log10(1 / mse) > 30
    parsed = Image.Exif()
    parsed.load(back.metadata.exif[6:])
    assert parsed[0x010F] == "Canon" and parsed.get_ifd(0x8769)[0x8827] == 400
    assert back.metadata.icc == photo.metadata.icc


def test_heic_without_pillow_heif_names_the_extra(tmp_path, monkeypatch):
    src = tmp_path / "x.heic"
    src.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 32)
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'restora\[heic\]'"):
        read_image(src)


# --- RAW ------------------------------------------------------------------------------------


def test_dng_linear_output_matches_the_sensor_values(tmp_path):
    pytest.importorskip("rawpy")
    src = make_dng(tmp_path / "tiny.dng")
    photo = read_image(src, raw_output="linear")
    assert photo.format == "RAW" and photo.bit_depth == 16 and photo.pixels.shape == (32, 48, 3)
    gray = photo.pixels[4:12, 4:20].reshape(-1, 3)
    np.testing.assert_allclose(gray, 200 / 4095, atol=0.002)  # linear, no auto-brightening
    srgb = read_image(src).pixels[4:12, 4:20].reshape(-1, 3).mean(0)
    assert (srgb > gray.mean(0) * 3).all()  # the sRGB curve lifts the dark gray strongly


def test_dng_is_recognised_by_content_and_orientation_applied(tmp_path):
    pytest.importorskip("rawpy")
    src = make_dng(tmp_path / "renamed.tif", orientation=6)
    photo = read_image(src, raw_output="linear")
    assert photo.format == "RAW" and photo.pixels.shape == (48, 32, 3)
    # rotated clockwise: the dark top-left quadrant is now top-right
    assert photo.pixels[:16, 16:].mean() < 0.06 < photo.pixels[:16, :16].mean()


def test_raw_without_rawpy_names_the_extra(tmp_path, monkeypatch):
    src = make_dng(tmp_path / "x.dng")
    monkeypatch.setitem(sys.modules, "rawpy", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'restora\[raw\]'"):
        read_image(src)


def test_raw_output_option_is_checked(tmp_path):
    with pytest.raises(InvalidParameterError, match="raw_output"):
        read_image(tmp_path / "x.dng", raw_output="log")


def test_heic_orientation_comes_upright_once(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    stored = np.zeros((32, 48, 3), np.uint8)
    stored[:16, :16] = 255  # white top-left block
    heif = pillow_heif.from_pillow(Image.fromarray(stored))
    heif.save(tmp_path / "o6.heic", exif=camera_exif(6), quality=95)
    photo = read_image(tmp_path / "o6.heic")
    assert photo.pixels.shape == (48, 32, 3)  # turned clockwise by libheif, not twice
    assert photo.pixels[2:14, 18:30].mean() > 0.9 and photo.pixels[2:14, 2:14].mean() < 0.1
    parsed = Image.Exif()
    parsed.load(photo.metadata.exif[6:])
    assert parsed[0x0112] == 1 and parsed[0x010F] == "Canon"


def test_10bit_heic_reads_as_16bit_scaled_by_1023(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    values = np.zeros((16, 16, 3), np.uint16)
    values[:, 8:] = 1023 << 6  # pillow-heif keeps 10-bit samples in the top bits
    pillow_heif.from_bytes(mode="RGB;16", size=(16, 16), data=values.tobytes()).save(
        tmp_path / "hdr.heic", quality=-1)
    photo = read_image(tmp_path / "hdr.heic")
    assert photo.bit_depth == 16
    np.testing.assert_allclose(photo.pixels[:, 12:], 1.0, atol=2 / 1023)
    np.testing.assert_allclose(photo.pixels[:, :4], 0.0, atol=2 / 1023)


def test_16bit_rgb_lzw_tiff_needs_imagecodecs_rather_than_losing_bits(tmp_path):
    try:
        import imagecodecs  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - environment with imagecodecs
        pytest.skip("imagecodecs installed: tifffile decodes LZW itself")
    path = tmp_path / "lzw16.tif"
    values = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 3000
    tifffile.imwrite(path, values, photometric="rgb")
    data = bytearray(path.read_bytes())
    # flip the Compression tag (259) from 1 (none) to 5 (LZW) without recompressing
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages.first.tags[259].valueoffset
    data[offset:offset + 2] = (5).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(MissingExtraError, match="pip install imagecodecs") as excinfo:
        read_image(path)
    assert_names_file(excinfo, path)
