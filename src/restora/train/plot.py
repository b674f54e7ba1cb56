"""A small loss / validation-PSNR plot drawn with Pillow (no matplotlib needed)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

PANEL = (480, 300)
_MARGIN = 40


def _panel(draw: Any, x0: int, title: str, points: list[tuple[float, float]], colour: str) -> None:
    w, h = PANEL
    left, top, right, bottom = x0 + _MARGIN, _MARGIN, x0 + w - 10, h - _MARGIN
    draw.rectangle((left, top, right, bottom), outline="black")
    draw.text((left, 10), title, fill="black")
    if not points:
        draw.text((left + 10, top + 10), "no data", fill="gray")
        return
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    if y_hi == y_lo:
        y_hi = y_lo + 1e-9 + abs(y_lo) * 1e-3
    def px(x: float, y: float) -> tuple[float, float]:
        return (left + (x - x_lo) / (x_hi - x_lo) * (right - left),
                bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top))
    coords = [px(x, y) for x, y in points]
    if len(coords) > 1:
        draw.line(coords, fill=colour, width=2)
    else:
        cx, cy = coords[0]
        draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=colour)
    draw.text((x0 + 2, top - 2), f"{y_hi:.4g}", fill="black")
    draw.text((x0 + 2, bottom - 10), f"{y_lo:.4g}", fill="black")
    draw.text((left, bottom + 5), f"step {x_lo:g}", fill="black")
    draw.text((right - 70, bottom + 5), f"step {x_hi:g}", fill="black")


def plot_history(history: list[dict[str, Any]], path: str | Path) -> Path:
    """Write a PNG with two panels: training loss (log10) and validation PSNR (dB) per step."""
    from PIL import Image, ImageDraw

    loss = [(r["step"], math.log10(r["loss"])) for r in history
            if "loss" in r and r["loss"] > 0 and math.isfinite(r["loss"])]
    val = [(r["step"], r["val_psnr"]) for r in history
           if "val_psnr" in r and math.isfinite(r["val_psnr"])]
    img = Image.new("RGB", (2 * PANEL[0], PANEL[1]), "white")
    draw = ImageDraw.Draw(img)
    _panel(draw, 0, "training loss (log10)", loss, "#1f77b4")
    _panel(draw, PANEL[0], "validation PSNR (dB)", val, "#d62728")
    path = Path(path)
    img.save(path, format="PNG")
    return path
