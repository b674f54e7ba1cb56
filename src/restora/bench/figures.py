"""Side-by-side crop figures for the docs: the same crop of several images, labelled."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def to_uint8(image: np.ndarray) -> np.ndarray:
    """HW or HWC float in [0, 1] (clipped) or uint8 -> uint8 (rounded to nearest)."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a
    return np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)


def crop_strip(
    images: dict[str, np.ndarray],
    path: str | Path,
    *,
    box: tuple[int, int, int],
    zoom: int = 2,
    pad: int = 6,
    label_height: int = 16,
) -> Path:
    """Save one row of labelled crops as PNG and return its path.

    images: label -> HW or HWC image (float [0, 1] or uint8), all the same size; box: (top,
    left, size) of the square crop in pixels; zoom: nearest-neighbour enlargement so pixels
    stay visible. Gray images are shown as RGB.
    """
    from PIL import Image, ImageDraw

    top, left, size = box
    tile_size = zoom * size
    canvas = Image.new("RGB", (len(images) * (tile_size + pad) + pad, tile_size + label_height + 2 * pad), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (label, image) in enumerate(images.items()):
        crop = to_uint8(image)[top: top + size, left: left + size]
        if crop.shape[0] != size or crop.shape[1] != size:
            raise ValueError(f"crop_strip: box {box} does not fit {label!r} of shape {np.shape(image)}")
        tile = Image.fromarray(np.squeeze(crop)).convert("RGB").resize((tile_size, tile_size), Image.NEAREST)
        x = pad + i * (tile_size + pad)
        canvas.paste(tile, (x, label_height + pad))
        draw.text((x, 2), label, fill="black")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    return out
