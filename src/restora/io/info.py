"""Describe an image file from its header and metadata, without decoding the pixels."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from restora._optional import require
from restora.io import _meta
from restora.io._sniff import png_header, png_metadata_chunks, sniff_format
from restora.io.read import (
    decoder_errors,
    open_pillow,
    open_raw,
    tag_bytes,
    tiff_exif,
    tiff_orientation,
    xmp_from_info,
)

_LAYOUTS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def image_info(path: str | Path) -> dict[str, Any]:
    """Header facts about an image file, as :func:`read_image` would return it.

    Keys: ``path``, ``format`` (JPEG, PNG, TIFF, WEBP, BMP, HEIF, RAW), ``width`` and
    ``height`` (upright, i.e. after the EXIF orientation), ``channels`` (colour + alpha),
    ``bit_depth`` (8, 16, 32), ``mode`` (L, LA, RGB, RGBA as read), ``has_alpha``,
    ``orientation`` (1..8 as stored), ``icc`` (profile description or None), ``exif``
    (Make, Model, DateTimeOriginal, ExposureTime, FNumber, ISO, Orientation: those present).
    Pixels are not decoded, except for TIFF layouts that tifffile cannot describe.
    """
    path = Path(path)
    fmt = sniff_format(path)
    with decoder_errors(path, damaged=f"{fmt} header", doing=f"read this {fmt} header"):
        return _describe(path, fmt, _FACTS[fmt](path, fmt))


def _describe(path: Path, fmt: str, facts: tuple) -> dict[str, Any]:
    width, height, channels, depth, alpha, exif, icc, xmp, orientation, upright = facts
    exif = _meta.normalize_exif(exif)
    if orientation is None:
        orientation = _meta.exif_orientation(exif) or _meta.xmp_orientation(xmp) or 1
    if not upright and orientation in (5, 6, 7, 8):
        width, height = height, width
    return {
        "path": str(path),
        "format": fmt,
        "width": int(width),
        "height": int(height),
        "channels": int(channels),
        "bit_depth": int(depth),
        "mode": _LAYOUTS[channels],
        "has_alpha": bool(alpha),
        "orientation": int(orientation),
        "icc": icc_description(icc),
        "exif": _meta.exif_summary(exif),
    }


def icc_description(icc: bytes | None) -> str | None:
    """The profile description of ICC bytes (Pillow ImageCms), or None when there is none."""
    if not icc:
        return None
    try:
        from PIL import ImageCms
    except ImportError:  # Pillow built without LittleCMS
        return f"ICC profile ({len(icc)} bytes)"
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.getProfileDescription(profile).strip() or None
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
        return f"unreadable ICC profile ({len(icc)} bytes)"


def _pillow_facts(path: Path, fmt: str) -> tuple:
    with open_pillow(path, fmt) as im:
        mode = im.mode
        info = dict(im.info)
        width, height = im.size
        exif = info.get("exif")
        if fmt == "TIFF" and exif is None:
            exif = _meta.exif_from_tiff_ifd(im.getexif())
    transparent = "transparency" in info
    if mode in ("P", "PA"):
        channels = 4 if mode == "PA" or transparent else 3
    elif mode in ("LA", "La"):
        channels = 2
    elif mode in ("RGBA", "RGBa"):
        channels = 4
    elif mode in ("L", "1", "I", "F") or mode.startswith("I;16"):
        channels = 2 if transparent else 1
    else:
        channels = 4 if transparent else 3
    depth = 32 if mode == "F" else 16 if mode == "I" or mode.startswith("I;16") else 8
    return (width, height, channels, depth, channels in (2, 4), exif,
            info.get("icc_profile"), xmp_from_info(info), None, False)


def _png_facts(path: Path, fmt: str) -> tuple:
    width, height, depth, colour = png_header(path)
    meta = png_metadata_chunks(path)
    if depth != 16:
        facts = list(_pillow_facts(path, fmt))
        facts[5] = facts[5] or meta.get("exif")  # eXIf after the image data
        facts[7] = facts[7] or meta.get("xmp")
        return tuple(facts)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour, 3)
    return (width, height, channels, 16, channels in (2, 4), meta.get("exif"),
            meta.get("icc"), meta.get("xmp"), None, False)


def _tiff_facts(path: Path, fmt: str) -> tuple:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        samples = int(page.samplesperpixel)
        photometric = int(page.photometric)
        colours = 1 if photometric in (0, 1) else 3
        extras = [int(x) for x in (page.extrasamples or ())]
        alpha = samples > colours and bool(extras) and extras[0] in (1, 2)
        dtype = page.dtype
        depth = 32 if dtype is not None and dtype.kind == "f" else (
            16 if dtype is not None and dtype.itemsize == 2 else 8)
        orientation = tiff_orientation(page) or 1
        return (int(page.imagewidth), int(page.imagelength), colours + int(alpha), depth,
                alpha, tiff_exif(path), tag_bytes(page, 34675), tag_bytes(page, 700),
                orientation, False)


def _heif_facts(path: Path, fmt: str) -> tuple:
    pillow_heif = require("pillow_heif", extra="heic", purpose="reading HEIC/HEIF images")
    heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
    base = heif.mode.split(";")[0]
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "BGRA": 4, "BGR": 3}.get(base, 3)
    depth = 16 if heif.mode.endswith(";16") else 8
    info = heif.info
    return (heif.size[0], heif.size[1], channels, depth, channels in (2, 4), info.get("exif"),
            info.get("icc_profile"), xmp_from_info(info), None, True)


def _raw_facts(path: Path, fmt: str) -> tuple:
    _, raw = open_raw(path)
    try:
        sizes = raw.sizes
        width, height = int(sizes.width), int(sizes.height)
        if sizes.flip in (5, 6):  # LibRaw flips 5/6 turn the image by 90 degrees
            width, height = height, width
    finally:
        raw.close()
    return (width, height, 3, 16, False, None, None, None, 1, True)


_FACTS = {"JPEG": _pillow_facts, "WEBP": _pillow_facts, "BMP": _pillow_facts,
          "PNG": _png_facts, "TIFF": _tiff_facts, "HEIF": _heif_facts, "RAW": _raw_facts}
