"""Write HDR radiance maps (float, unbounded) atomically: Radiance RGBE, OpenEXR, float TIFF."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from restora.errors import (
    ImageWriteError,
    OutputExistsError,
    ShapeError,
    UnsupportedFormatError,
)
from restora.io.atomic import atomic_write
from restora.io.image import Metadata, Photo
from restora.io.write import write_image

#: Suffixes a radiance map can be written to: Radiance RGBE and OpenEXR through OpenCV (EXR
#: only where OpenCV's build writes it), 32-bit float TIFF through restora's TIFF writer.
RADIANCE_SUFFIXES = (".hdr", ".exr", ".tif", ".tiff")


def _exr_writable() -> bool:
    import cv2

    return bool(cv2.haveImageWriter("x.exr"))


def check_radiance_path(path: str | Path, *, inputs: Sequence[str | Path] = (),
                        overwrite: bool = False) -> Path:
    """Check, before any work, that :func:`write_radiance` may write ``path``: a radiance
    suffix (EXR only where this OpenCV writes it), not one of ``inputs``, not an existing file
    unless ``overwrite``, not a folder."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in RADIANCE_SUFFIXES:
        raise UnsupportedFormatError(
            path, f"cannot write a radiance map with suffix {path.suffix!r}; use .hdr (Radiance), "
            ".exr (OpenEXR) or .tif (32-bit float TIFF)")
    if suffix == ".exr" and not _exr_writable():
        raise UnsupportedFormatError(
            path, "this OpenCV build writes no OpenEXR files; use .hdr (Radiance RGBE) or .tif "
            "(32-bit float TIFF), or install an OpenCV with OpenEXR")
    if path.is_dir():
        raise ImageWriteError(path, "is a directory; give a file name with .hdr, .exr or .tif")
    for source in inputs:
        if _same(path, Path(source)):
            raise OutputExistsError(path, f"is the same file as the input {source}; choose "
                                          "another name for the radiance map")
    if not overwrite and (path.exists() or path.is_symlink()):
        raise OutputExistsError(path, "already exists; pass --overwrite (overwrite=True) to "
                                      "replace it")
    return path


def write_radiance(radiance: np.ndarray, path: str | Path, *, overwrite: bool = False,
                   inputs: Sequence[str | Path] = (), metadata: Metadata | None = None) -> Path:
    """Write an HWC (C = 1 or 3) float radiance map (>= 0, relative units, not clipped).

    ``.hdr``: Radiance RGBE (gray written as RGB); ``.exr``: OpenEXR float (where OpenCV
    writes it); ``.tif``: 32-bit float TIFF with ``metadata`` (ICC, EXIF tags). Atomic: a
    temporary file renamed when complete. Refusals as :func:`check_radiance_path`.
    """
    path = check_radiance_path(path, inputs=inputs, overwrite=overwrite)
    data = np.asarray(radiance, np.float32)
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3 or data.shape[2] not in (1, 3) or 0 in data.shape:
        raise ShapeError(f"radiance: expected an HxWx1 or HxWx3 array, got shape {data.shape}")
    if not np.isfinite(data).all():
        raise ImageWriteError(path, "the radiance map has NaN or infinite values; nothing was written")
    data = np.maximum(data, 0.0)
    if path.suffix.lower() in (".tif", ".tiff"):
        photo = Photo(pixels=data, bit_depth=32, metadata=metadata or Metadata())
        return write_image(photo, path, bit_depth=32, overwrite=True, inputs=inputs)
    import cv2

    bgr = np.ascontiguousarray(np.repeat(data, 3, axis=2) if data.shape[2] == 1 else data[..., ::-1])
    ok, encoded = cv2.imencode(path.suffix.lower(), bgr)
    if not ok:
        raise ImageWriteError(path, f"OpenCV could not encode {path.suffix}; nothing was written")
    return atomic_write(path, lambda fh: fh.write(encoded.tobytes()))


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


__all__ = ["RADIANCE_SUFFIXES", "check_radiance_path", "write_radiance"]
