"""Builders for the I/O tests (imported by the test modules): every input file is made here."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest


def srgb_icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif(orientation: int = 6) -> bytes:
    """EXIF with an orientation, make/model and an Exif sub-IFD of shooting data."""
    from PIL import Image, TiffImagePlugin

    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS R5"
    exif[0x0131] = "restora-test"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2024:05:06 07:08:09"
    sub[0x829A] = TiffImagePlugin.IFDRational(1, 250)
    sub[0x829D] = TiffImagePlugin.IFDRational(28, 10)
    sub[0x8827] = 400
    return exif.tobytes()


def blocks_rgb(height: int = 32, width: int = 48, block: int = 16) -> np.ndarray:
    """Asymmetric uint8 pattern: a distinct flat colour per 16x16 block (JPEG-friendly)."""
    colours = np.array(
        [[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20], [20, 230, 230],
         [230, 20, 230], [128, 128, 128], [250, 250, 250], [10, 10, 10]], np.uint8)
    image = np.zeros((height, width, 3), np.uint8)
    for by in range(height // block):
        for bx in range(width // block):
            colour = colours[(by * (width // block) + bx) % len(colours)]
            image[by * block:(by + 1) * block, bx * block:(bx + 1) * block] = colour
    return image


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose valid IHDR (with CRC) declares width x height, then a token IDAT + IEND."""

    def chunk(tag: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(tag + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    data += chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def make_dng(path: Path, *, orientation: int | None = None) -> Path:
    """A 32x48 RGGB CFA DNG (12-bit, black 0, white 4095) that LibRaw accepts.

    Top-left 16x24 quadrant: all photosites 200 (neutral gray); elsewhere R=3000,
    G=2000, B=1000. Identity colour matrix, neutral as-shot white.
    """
    import tifffile

    cfa = np.zeros((32, 48), np.uint16)
    cfa[0::2, 0::2], cfa[0::2, 1::2], cfa[1::2, 0::2], cfa[1::2, 1::2] = 3000, 2000, 2000, 1000
    cfa[:16, :24] = 200
    identity = []
    for value in (1, 0, 0, 0, 1, 0, 0, 0, 1):
        identity += [value * 10000, 10000]
    tags = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: R G / G B
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "restora test camera", True),  # UniqueCameraModel
        (271, "s", 0, "restora", True),
        (272, "s", 0, "test", True),
        (50714, "H", 1, 0, True),  # BlackLevel
        (50717, "H", 1, 4095, True),  # WhiteLevel
        (50721, "2i", 9, identity, True),  # ColorMatrix1
        (50728, "2I", 3, [10000] * 6, True),  # AsShotNeutral
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1 = D65
    ]
    if orientation is not None:
        tags.append((274, "H", 1, orientation, True))
    tifffile.imwrite(path, cfa, photometric=32803, extratags=tags, subfiletype=0, metadata=None)
    return path


def assert_names_file(excinfo: pytest.ExceptionInfo, path: Path) -> None:
    message = str(excinfo.value)
    assert str(path) in message, message
    assert "\n" not in message


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())
