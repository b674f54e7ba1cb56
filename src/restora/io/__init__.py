"""Photo I/O: the only place where files become arrays and arrays become tensors.

``read_image`` decodes JPEG, PNG, TIFF, WebP, BMP, HEIC/HEIF (extra ``heic``) and camera
RAW (extra ``raw``) into an upright :class:`Photo` (HWC float32 in [0, 1] + alpha +
metadata); ``write_image`` encodes it back atomically with its EXIF/ICC/XMP;
``to_float32``/``from_float32``/``to_tensor``/``from_tensor`` are the array bridges.
"""

from __future__ import annotations

from pathlib import Path

from restora.errors import DatasetError
from restora.io._sniff import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, RAW_SUFFIXES
from restora.io.bridge import from_float32, from_tensor, to_float32, to_tensor
from restora.io.image import Metadata, Photo
from restora.io.info import image_info
from restora.io.read import read_image
from restora.io.write import WRITE_FORMATS, check_output_path, write_image

SUPPORTED_READ_SUFFIXES: tuple[str, ...] = (
    ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".heic", ".heif",
) + RAW_SUFFIXES
"""Suffixes :func:`is_image_path` accepts (reading itself goes by content, not suffix)."""

SUPPORTED_WRITE_SUFFIXES: tuple[str, ...] = tuple(WRITE_FORMATS)
"""Suffixes :func:`write_image` can encode; the suffix picks the format."""


def is_image_path(path: str | Path) -> bool:
    """True for names with a readable image suffix (case-insensitive), False for hidden files.

    Looks at the name only (no file access): for walking folders. Names starting with
    ``.`` (hidden files, macOS ``._`` resource forks, restora's own temporary files) are
    skipped.
    """
    name = Path(path).name
    return not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_READ_SUFFIXES


def list_images(folder: str | Path, *, role: str = "image") -> list[Path]:
    """Image files directly inside ``folder`` (by :func:`is_image_path`), sorted by name.

    ``role`` names the folder in errors ("dataset", "training", ...). Raises
    :class:`~restora.errors.DatasetError` when the folder is missing or has no images.
    """
    path = Path(folder)
    if not path.is_dir():
        raise DatasetError(f"{path}: {role} folder not found")
    files = sorted(p for p in path.iterdir() if p.is_file() and is_image_path(p))
    if not files:
        raise DatasetError(f"{path}: no images found (looked for .png, .jpg, .bmp, .tif ...)")
    return files


__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "SUPPORTED_READ_SUFFIXES",
    "SUPPORTED_WRITE_SUFFIXES",
    "Metadata",
    "Photo",
    "check_output_path",
    "from_float32",
    "from_tensor",
    "image_info",
    "is_image_path",
    "list_images",
    "read_image",
    "to_float32",
    "to_tensor",
    "write_image",
]
