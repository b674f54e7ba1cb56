"""Estimate the quality factor a JPEG was saved at, from its quantisation tables.

Encoders built on the IJG library (libjpeg, libjpeg-turbo, Pillow, OpenCV, ImageMagick)
scale the standard tables of ITU-T T.81 Annex K by ``s = 5000 / q`` (q < 50) or
``s = 200 - 2 q`` (q >= 50): ``entry = clip((base * s + 50) // 100, 1, 255)``
(libjpeg ``jcparam.c``, ``jpeg_quality_scaling`` and ``jpeg_add_quant_table`` with
``force_baseline``). Inverting that scaling is exact for those encoders; for others
(cameras, Photoshop) the result is the IJG quality whose tables are nearest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from restora.io.image import Photo

#: ITU-T T.81 Annex K, table K.1 (luminance), natural (row-major) order.
STD_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int64)

#: ITU-T T.81 Annex K, table K.2 (chrominance), natural order.
STD_CHROMINANCE = np.array([
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
] + [99] * 32, dtype=np.int64)


def ijg_table(base: np.ndarray, quality: int) -> np.ndarray:
    """The table libjpeg writes for ``quality`` (1..100), baseline-clamped to 1..255."""
    q = min(max(int(quality), 1), 100)
    scale = 5000 // q if q < 50 else 200 - 2 * q
    return np.clip((base * scale + 50) // 100, 1, 255)


def quality_from_tables(tables: dict[int, object]) -> int:
    """The IJG quality (1..100) whose scaled standard tables best match ``tables``.

    tables: Pillow's ``im.quantization`` (table id -> 64 entries in natural order); table 0
    is luminance, table 1 (when present) chrominance. Ties go to the higher quality.
    """
    luma = np.asarray(tables[0], dtype=np.int64).reshape(-1)[:64]
    chroma = np.asarray(tables[1], dtype=np.int64).reshape(-1)[:64] if 1 in tables else None
    best_q, best_err = 100, None
    for q in range(100, 0, -1):
        err = int(np.abs(ijg_table(STD_LUMINANCE, q) - luma).sum())
        if chroma is not None:
            err += int(np.abs(ijg_table(STD_CHROMINANCE, q) - chroma).sum())
        if best_err is None or err < best_err:
            best_q, best_err = q, err
    return best_q


def estimate_jpeg_quality(source: str | Path | Photo) -> int | None:
    """The IJG quality factor (1..100) of a JPEG file, or ``None`` when it is not a JPEG.

    source: a file path, or a decoded :class:`~restora.io.image.Photo` (its ``source`` file's
        header is re-read; a photo without a source file, or not a JPEG, gives ``None``).
    Only the header is read (no pixel decoding, so no pixel-count guard is needed: the JPEG
    header parser is used directly, not ``Image.open``). Exact for IJG-based encoders
    (Pillow, libjpeg, OpenCV); the nearest IJG quality for others.
    """
    from PIL import JpegImagePlugin

    if isinstance(source, Photo):
        if source.source is None or (source.format or "").upper() not in ("JPEG", "MPO"):
            return None
        source = source.source
    try:
        with open(source, "rb") as fh:
            tables = getattr(JpegImagePlugin.JpegImageFile(fh), "quantization", None)
    except Exception:  # noqa: BLE001  (not a JPEG, or a damaged header: no quality to read)
        return None
    if not tables or 0 not in tables or any(len(tables[k]) != 64 for k in tables if k in (0, 1)):
        return None  # no luminance table, or a damaged one: no quality to read
    return quality_from_tables(tables)
