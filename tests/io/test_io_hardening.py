"""Bad files and odd file-system entries: one clear error, bounded memory, nothing written.

Each case is one the hardening audit reproduced on the earlier code (a traceback, a hang, a
gigabyte allocation or a silent overwrite).
"""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from io_builders import png_header_only
from PIL import Image

from restora.cli import main
from restora.errors import ImageReadError, OutputExistsError
from restora.io import image_info, read_image
from restora.io.jpeg_quality import estimate_jpeg_quality


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + tag + payload
            + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF))


def _png_with_icc_bomb(path: Path, inflated: int = 256 << 20) -> None:
    """A valid 8x8 PNG whose iCCP chunk inflates to ``inflated`` bytes (~250 KB on disk)."""
    buf = Image.new("RGB", (8, 8), (10, 200, 30))
    buf.save(path)
    data = path.read_bytes()
    bomb = zlib.compressobj(9)
    stream = b"".join(bomb.compress(b"\0" * (1 << 20)) for _ in range(inflated >> 20)) + bomb.flush()
    iccp = _chunk(b"iCCP", b"icc\0\0" + stream)
    ihdr_end = 8 + 8 + 13 + 4
    path.write_bytes(data[:ihdr_end] + iccp + data[ihdr_end:])


def test_an_icc_zlib_bomb_is_left_out_without_inflating_it(tmp_path):
    path = tmp_path / "bomb.png"
    _png_with_icc_bomb(path)
    assert path.stat().st_size < 1 << 20
    from restora.io._sniff import png_metadata_chunks

    tracemalloc.start()
    try:
        assert "icc" not in png_metadata_chunks(path)  # restora's own parser leaves it out
        for reader in (read_image, image_info):  # Pillow's guard: one clear error
            with pytest.raises(ImageReadError, match="bomb.png: .*too large"):
                reader(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"{peak / 2**20:.0f} MiB allocated for a small file"


def test_a_fifo_named_like_an_image_is_refused_at_once(tmp_path, capsys):
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes
    with pytest.raises(ImageReadError, match="not a regular file"):
        read_image(fifo)
    assert main(["info", str(fifo)]) == 2
    assert main(["restore", str(fifo), "-o", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 2 and "Traceback" not in err


def test_a_symlink_loop_is_one_error_line(tmp_path, capsys):
    loop = tmp_path / "loop.png"
    loop.symlink_to(tmp_path / "loop.png")
    assert main(["restore", str(loop), "-o", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and "symbolic links" in err


def test_every_command_refuses_to_replace_a_file_unless_told(tmp_path, capsys):
    source = tmp_path / "in.png"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(source)
    target = tmp_path / "out.png"
    target.write_bytes(b"keep me")
    args = ["restore", str(source), "-o", str(target), "--task", "denoise", "--method", "nlm"]
    assert main(args) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert target.read_bytes() == b"keep me"
    assert main([*args, "--overwrite"]) == 0
    assert Image.open(target).size == (16, 16)
    import restora

    with pytest.raises(OutputExistsError, match="already exists"):
        restora.restore_file(source, target, task="denoise", method="nlm")


def test_header_readers_survive_damaged_and_huge_headers(tmp_path):
    big = tmp_path / "huge.jpg"
    Image.new("RGB", (16, 16)).save(big, quality=50)
    data = bytearray(big.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)  # declares 3.6 gigapixels
    big.write_bytes(bytes(data))
    assert estimate_jpeg_quality(big) == 50  # the tables, without Pillow's pixel guard
    truncated = tmp_path / "cut.tif"
    Image.new("RGB", (64, 64)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:40])
    for reader in (read_image, image_info):
        with pytest.raises(ImageReadError) as info:
            reader(truncated)
        assert str(truncated) in str(info.value)


# --- found by the fuzz harness (tests/fuzz, benchmarks/fuzz_inputs.py) -------------------------


def _no_pixel_decoding(monkeypatch):
    """Make any Pillow pixel decode fail the test: the checks must refuse first."""
    from PIL import ImageFile

    def load(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def test_a_tiny_jpeg_declaring_a_huge_frame_is_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "liar.jpg"
    Image.new("L", (16, 16), 99).save(path, quality=50)
    data = bytearray(path.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 14000, 14000)  # 196 MP: under the pixel limit
    path.write_bytes(bytes(data))
    assert path.stat().st_size < 1000
    _no_pixel_decoding(monkeypatch)
    with pytest.raises(ImageReadError, match=r"liar.jpg: truncated .* cannot hold the 14000x14000"):
        read_image(path)


def test_a_png_whose_image_data_cannot_hold_its_header_size_is_refused(tmp_path, monkeypatch):
    path = png_header_only(tmp_path / "liar.png", 12000, 12000)
    _no_pixel_decoding(monkeypatch)
    with pytest.raises(ImageReadError, match=r"liar.png: truncated .* cannot hold the 12000x12000"):
        read_image(path)


def _one_bit_png(path: Path, side: int) -> Path:
    """A valid 1-bit PNG of side x side: a few kilobytes that decode to side^2 bytes."""
    Image.new("1", (side, side), 1).save(path, optimize=True)
    return path


def test_decoding_is_budgeted_by_bytes_not_only_pixels(tmp_path, monkeypatch):
    from restora.errors import DecodeBudgetError, DecompressionBombError
    from restora.io._sniff import MAX_DECODE_BYTES_ENV, decode_bytes

    path = _one_bit_png(tmp_path / "flat.png", 3000)  # 9 MP, far under 200 MP
    assert path.stat().st_size < 10_000
    need = decode_bytes(3000, 3000, 1, 1)
    monkeypatch.setenv(MAX_DECODE_BYTES_ENV, str(need - 1))
    _no_pixel_decoding(monkeypatch)
    with pytest.raises(DecodeBudgetError) as excinfo:
        read_image(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: the header declares 3000x3000 pixels x 1 channel(s)")
    assert MAX_DECODE_BYTES_ENV in message and "\n" not in message
    assert isinstance(excinfo.value, DecompressionBombError)  # caught where bombs are
    monkeypatch.undo()
    monkeypatch.setenv(MAX_DECODE_BYTES_ENV, str(need))
    assert read_image(path).pixels.shape == (3000, 3000, 1)


def test_the_default_decode_budget_follows_the_address_space_limit(monkeypatch):
    import resource

    from restora.errors import InvalidParameterError
    from restora.io import _sniff

    monkeypatch.delenv(_sniff.MAX_DECODE_BYTES_ENV, raising=False)
    mapped = _sniff._mapped_bytes()
    monkeypatch.setattr(resource, "getrlimit", lambda kind: (mapped + (1 << 30), -1))
    assert _sniff.memory_limit() <= 1 << 30
    assert _sniff.resolve_max_decode_bytes() <= 1 << 29  # half of what is left
    monkeypatch.setenv(_sniff.MAX_DECODE_BYTES_ENV, "lots")
    with pytest.raises(InvalidParameterError, match="RESTORA_MAX_DECODE_BYTES"):
        _sniff.resolve_max_decode_bytes()


def test_running_out_of_memory_after_decoding_is_one_clear_error(tmp_path, monkeypatch):
    from restora.io import read as read_module

    path = tmp_path / "ok.png"
    Image.new("RGB", (8, 8)).save(path)

    def no_memory(array):
        raise MemoryError("Unable to allocate 2.19 GiB for an array")

    monkeypatch.setattr(read_module, "to_float32", no_memory)
    with pytest.raises(ImageReadError, match=r"ok.png: not enough memory to decode this PNG"):
        read_image(path)


#: EXIF whose IFD0 holds one Orientation entry cut before its value.
_CUT_ORIENTATION = b"II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00"


@pytest.mark.parametrize("container", ["jpeg", "png", "webp"])
def test_a_truncated_exif_orientation_entry_is_ignored(tmp_path, container):
    from tests.fuzz.cases import (
        jpeg_with_app1,
        png_chunks,
        png_from_chunks,
        webp_with_exif,
    )

    buf = io.BytesIO()
    rgb = Image.fromarray(np.full((6, 8, 3), 90, np.uint8))
    if container == "jpeg":
        rgb.save(buf, "JPEG")
        data = jpeg_with_app1(buf.getvalue(), b"Exif\0\0" + _CUT_ORIENTATION)
    elif container == "png":
        rgb.save(buf, "PNG")
        chunks = png_chunks(buf.getvalue())
        data = png_from_chunks([chunks[0], (b"eXIf", _CUT_ORIENTATION), *chunks[1:]])
    else:
        rgb.save(buf, "WEBP", lossless=True)
        data = webp_with_exif(buf.getvalue(), b"Exif\0\0" + _CUT_ORIENTATION)
    path = tmp_path / f"cut.{container}"
    path.write_bytes(data)
    assert read_image(path).pixels.shape == (6, 8, 3)  # as stored: no orientation to apply
    info = image_info(path)
    assert (info["width"], info["height"], info["orientation"]) == (8, 6, 1)


def test_a_damaged_quantisation_table_gives_no_quality(tmp_path, monkeypatch):
    from PIL import JpegImagePlugin

    path = tmp_path / "q.jpg"
    Image.new("RGB", (16, 16)).save(path, quality=50)
    real = JpegImagePlugin.JpegImageFile.__init__

    def short_tables(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self.quantization = {0: list(range(1, 30))}  # 29 entries, not 64

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "__init__", short_tables)
    assert estimate_jpeg_quality(path) is None
