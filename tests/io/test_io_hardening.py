"""Bad files and odd file-system entries: one clear error, bounded memory, nothing written.

Each case is one the hardening audit reproduced on the earlier code (a traceback, a hang, a
gigabyte allocation or a silent overwrite).
"""

from __future__ import annotations

import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
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
