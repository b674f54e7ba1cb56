"""JPEG compression round trip in memory (Pillow / libjpeg), for deblocking data."""

from __future__ import annotations

import io

import numpy as np

from restora.degrade._common import check_image
from restora.errors import InvalidParameterError, ShapeError

_SUBSAMPLING = ("4:4:4", "4:2:2", "4:2:0")


def jpeg_compress(image: np.ndarray, quality: int, *, subsampling: str = "4:2:0") -> np.ndarray:
    """Encode ``image`` as a baseline JPEG at ``quality`` with Pillow, decode, return it.

    image: HW, HW1 (gray, encoded as a one-channel JPEG) or HW3 (RGB) float in [0, 1];
        quantised to 8 bits (rounded, clipped) before encoding. uint8 input is used as is.
    quality: integer 1..100 (IJG scale, as Pillow's ``quality``).
    subsampling: chroma subsampling "4:4:4", "4:2:2" or "4:2:0" (ignored for gray).
    Returns float32 in [0, 1] with the input's shape.
    Raises InvalidParameterError for a bad quality/subsampling, ShapeError for other layouts.
    """
    from PIL import Image

    arr = check_image(image)
    if (
        isinstance(quality, bool)
        or not isinstance(quality, (int, np.integer))
        or not (1 <= quality <= 100)
    ):
        raise InvalidParameterError(
            f"quality: expected an integer from 1 (worst) to 100 (best), got {quality!r}."
        )
    if subsampling not in _SUBSAMPLING:
        raise InvalidParameterError(
            f"subsampling: expected one of {', '.join(_SUBSAMPLING)}, got {subsampling!r}."
        )
    if arr.ndim == 3 and arr.shape[2] not in (1, 3):
        raise ShapeError(
            f"image: JPEG takes gray (HW or HW1) or RGB (HW3), got shape {arr.shape}; "
            "drop the alpha channel first."
        )
    if arr.dtype == np.uint8:
        u8 = arr
    else:
        u8 = np.clip(np.floor(arr.astype(np.float64) * 255.0 + 0.5), 0, 255).astype(np.uint8)
    gray = arr.ndim == 2 or arr.shape[2] == 1
    pil = Image.fromarray(np.ascontiguousarray(u8.reshape(u8.shape[:2]) if gray else u8))
    buf = io.BytesIO()
    if gray:
        pil.save(buf, format="JPEG", quality=int(quality))
    else:
        pil.save(buf, format="JPEG", quality=int(quality), subsampling=subsampling)
    buf.seek(0)
    with Image.open(buf) as decoded:
        out = np.asarray(decoded.convert("L" if gray else "RGB"), dtype=np.float32) / 255.0
    return out.reshape(arr.shape)
