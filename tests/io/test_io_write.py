"""write_image: formats, depths, metadata, atomicity, input protection."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile
from io_builders import assert_names_file, blocks_rgb, camera_exif, listing, srgb_icc
from PIL import Image

from restora.errors import (
    ImageWriteError,
    InvalidParameterError,
    OutputExistsError,
    ShapeError,
    UnsupportedFormatError,
)
from restora.io import (
    Metadata,
    Photo,
    from_float32,
    read_image,
    to_float32,
    write_image,
)
from restora.io import write as write_module


def _photo(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(blocks_rgb()).save(src)
    return src, read_image(src)


def test_output_equal_to_input_is_refused_unless_overwrite(tmp_path):
    src, photo = _photo(tmp_path)
    before = src.read_bytes()
    brighter = photo.with_pixels(np.clip(photo.pixels + 0.1, 0, 1))
    with pytest.raises(OutputExistsError, match="overwrite=True") as excinfo:
        write_image(brighter, src)  # the photo's own source counts as an input
    assert_names_file(excinfo, src)
    # another spelling of the same path, given through inputs=
    spelled = tmp_path / "sub" / ".." / "in.png"
    with pytest.raises(OutputExistsError):
        write_image(brighter.with_pixels(brighter.pixels), spelled, inputs=[src])
    assert src.read_bytes() == before
    assert listing(tmp_path) == ["in.png"]

    write_image(brighter, src, overwrite=True)
    np.testing.assert_allclose(read_image(src).pixels, brighter.pixels, atol=0.5 / 255)


def test_hard_link_to_an_input_is_the_same_file(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(blocks_rgb()).save(src)
    link = tmp_path / "link.png"
    os.link(src, link)
    with pytest.raises(OutputExistsError):
        write_image(np.zeros((4, 4, 3), np.float32), link, inputs=[src])


def test_existing_other_output_is_replaced(tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"old content")
    write_image(np.full((3, 4), 0.5, np.float32), out)
    np.testing.assert_array_equal(from_float32(read_image(out).pixels), np.full((3, 4, 1), 128))


def test_failing_encoder_leaves_neither_output_nor_temp_file(tmp_path, monkeypatch):
    _, photo = _photo(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    existing = out_dir / "keep.png"
    existing.write_bytes(b"previous result")

    def broken(fh, samples, quality, meta, has_alpha):
        fh.write(b"\x89PNG half written")
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(write_module._ENCODERS, "PNG", broken)
    with pytest.raises(ImageWriteError, match="disk on fire") as excinfo:
        write_image(photo, out_dir / "new.png")
    assert_names_file(excinfo, out_dir / "new.png")
    with pytest.raises(ImageWriteError):
        write_image(photo, existing)
    assert listing(out_dir) == ["keep.png"]
    assert existing.read_bytes() == b"previous result"


def test_parent_folders_are_created_and_mode_follows_umask(tmp_path):
    out = write_image(np.zeros((2, 3, 3), np.uint8), tmp_path / "a" / "b" / "c.tif")
    assert out.is_file()
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_unsupported_suffix_and_bad_options(tmp_path):
    image = np.zeros((2, 3, 3), np.float32)
    with pytest.raises(UnsupportedFormatError, match=r"\.gif") as excinfo:
        write_image(image, tmp_path / "x.gif")
    assert_names_file(excinfo, tmp_path / "x.gif")
    with pytest.raises(InvalidParameterError, match="JPEG supports 8"):
        write_image(image, tmp_path / "x.jpg", bit_depth=16)
    with pytest.raises(InvalidParameterError, match="quality"):
        write_image(image, tmp_path / "x.jpg", quality=0)
    with pytest.raises(ShapeError, match="1, 2, 3 or 4 channels"):
        write_image(np.zeros((2, 3, 5), np.float32), tmp_path / "x.png")
    with pytest.raises(ImageWriteError, match="NaN"):
        write_image(np.full((2, 2), np.nan, np.float32), tmp_path / "nan.png")
    assert listing(tmp_path) == []


def test_quantisation_clips_and_rounds_half_up(tmp_path):
    values = np.array([[0.0, 0.5, 1.0, -0.25, 1.5, 127.5 / 255, 0.2 / 255, 0.6 / 255]],
                      np.float32)
    out = write_image(values, tmp_path / "q.png")
    with Image.open(out) as im:
        assert im.mode == "L"
        np.testing.assert_array_equal(np.asarray(im), [[0, 128, 255, 0, 255, 128, 0, 1]])


def test_default_depth_follows_photo_and_format(tmp_path):
    values = np.random.default_rng(0).integers(0, 65536, (4, 5, 3), dtype=np.uint16)
    photo16 = Photo(pixels=to_float32(values), bit_depth=16)
    png = write_image(photo16, tmp_path / "a.png")
    jpg = write_image(photo16, tmp_path / "a.jpg")
    tif8 = write_image(photo16, tmp_path / "a.tif", bit_depth=8)
    assert read_image(png).bit_depth == 16 and read_image(jpg).bit_depth == 8
    assert tifffile.imread(tif8).dtype == np.uint8
    photo32 = Photo(pixels=to_float32(values), bit_depth=32)
    assert read_image(write_image(photo32, tmp_path / "b.png")).bit_depth == 16
    assert tifffile.imread(write_image(photo32, tmp_path / "b.tif")).dtype == np.float32


def test_alpha_is_dropped_for_jpeg_and_bmp_and_kept_elsewhere(tmp_path):
    rgba = np.random.default_rng(1).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    for suffix, keeps in ((".jpg", False), (".bmp", False), (".png", True), (".tif", True),
                          (".webp", True)):
        out = write_image(rgba, tmp_path / f"a{suffix}", quality=100)
        photo = read_image(out)
        assert (photo.alpha is not None) == keeps, suffix
        if keeps:
            np.testing.assert_array_equal(from_float32(photo.alpha[..., 0]), rgba[..., 3])
        if suffix in (".bmp", ".png", ".tif", ".webp"):  # lossless (WebP at quality 100)
            np.testing.assert_array_equal(from_float32(photo.pixels), rgba[..., :3])


def test_gray_is_written_as_gray(tmp_path):
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    for suffix in (".png", ".jpg", ".bmp", ".tif"):
        out = write_image(gray, tmp_path / f"g{suffix}")
        with Image.open(out) as im:
            assert im.mode == "L", suffix
        assert read_image(out).channels == 1
    with tifffile.TiffFile(tmp_path / "g.tif") as tif:
        assert int(tif.pages.first.photometric) == 1


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
def test_metadata_is_carried(tmp_path, suffix):
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           b'02/22-rdf-syntax-ns#"><rdf:Description dc:creator="restora-test" xmlns:dc="http://'
           b'purl.org/dc/elements/1.1/"/></rdf:RDF></x:xmpmeta>')
    meta = Metadata(exif=camera_exif(1), icc=srgb_icc(), xmp=xmp)
    out = write_image(blocks_rgb(), tmp_path / f"m{suffix}", metadata=meta)
    back = read_image(out).metadata
    assert back.icc == meta.icc
    assert back.xmp is not None and b"restora-test" in back.xmp
    parsed = Image.Exif()
    parsed.load(back.exif[6:])
    assert parsed[0x010F] == "Canon" and parsed[0x0110] == "EOS R5"
    if suffix != ".tif":  # TIFF carries the IFD0 text tags only
        assert back.exif == meta.exif
        assert parsed.get_ifd(0x8769)[0x8827] == 400


def test_16bit_png_writer_is_read_identically_by_pillow(tmp_path):
    gray = np.random.default_rng(2).integers(0, 65536, (7, 9), dtype=np.uint16)
    out = write_image(gray, tmp_path / "g16.png", metadata=Metadata(icc=srgb_icc()))
    with Image.open(out) as im:
        assert im.mode == "I;16" and im.info["icc_profile"] == srgb_icc()
        np.testing.assert_array_equal(np.asarray(im), gray)


def test_photo_with_wrong_alpha_shape_is_refused(tmp_path):
    photo = Photo(pixels=np.zeros((4, 4, 3), np.float32), alpha=np.zeros((3, 3, 1), np.float32))
    with pytest.raises(ShapeError, match="alpha"):
        write_image(photo, tmp_path / "x.png")


def test_exif_without_prefix_is_accepted_and_garbage_refused(tmp_path):
    body = camera_exif(1)[6:]  # TIFF-structured bytes only, as PNG eXIf / WebP store them
    out = write_image(blocks_rgb(), tmp_path / "a.jpg", metadata=Metadata(exif=body))
    assert read_image(out).metadata.exif == b"Exif\x00\x00" + body
    with pytest.raises(InvalidParameterError, match="metadata.exif"):
        write_image(blocks_rgb(), tmp_path / "b.jpg", metadata=Metadata(exif=b"not exif"))
    assert listing(tmp_path) == ["a.jpg"]


def test_check_output_path_before_any_work(tmp_path):
    from restora.io import check_output_path

    src = tmp_path / "in.jpg"
    src.write_bytes(b"x")
    assert check_output_path(tmp_path / "out.png", inputs=[src]) == tmp_path / "out.png"
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        check_output_path(src, inputs=[str(src)])
    assert check_output_path(src, inputs=[src], overwrite=True) == src
    with pytest.raises(UnsupportedFormatError, match=r"'\.txt'"):
        check_output_path(tmp_path / "out.txt")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ImageWriteError, match="is a directory"):
        check_output_path(tmp_path / "folder.png")
