"""Scenes with known truth for the multi-frame tests (made here, nothing downloaded)."""

from __future__ import annotations

import numpy as np


def linear_scene(size: int = 192, stops: float = 8.0) -> np.ndarray:
    """A linear radiance image (HWC float32 > 0): astronaut linearised from sRGB, lit by a
    left-to-right gradient spanning ``stops`` stops, so that no one exposure holds it."""
    from skimage import data

    img = data.astronaut()[::2, ::2][:size, :size].astype(np.float32) / 255.0
    lin = np.where(img <= 0.04045, img / 12.92, ((img + 0.055) / 1.055) ** 2.4)
    light = 2.0 ** np.linspace(-stops / 2, stops / 2, lin.shape[1], dtype=np.float32)
    return ((lin + 0.003) * light[None, :, None] * 0.25).astype(np.float32)


def clean_image(size: int = 160, gray: bool = False) -> np.ndarray:
    """A clean photo crop (astronaut's face and flag), HWC float32 in [0.1, 0.9]."""
    from skimage import data

    img = data.astronaut()[40:40 + size, 150:150 + size].astype(np.float32) / 255.0
    if gray:
        img = img @ np.array([0.299, 0.587, 0.114], np.float32)
        img = img[..., None]
    return 0.1 + 0.8 * img


def well_exposed(frames: list[np.ndarray]) -> np.ndarray:
    """HW bool: pixels well exposed (5 %..95 % in every channel) in at least one frame."""
    return np.any([((f > 0.05) & (f < 0.95)).all(axis=2) for f in frames], axis=0)


def stops_error(estimate: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """RMS of log2(estimate / truth) over ``mask`` after removing the median (the merge
    knows radiance up to one scale factor): the error in stops."""
    r = np.log2(np.maximum(estimate[mask], 1e-12)) - np.log2(truth[mask])
    r -= np.median(r)
    return float(np.sqrt(np.mean(r**2)))


def psnr(a: np.ndarray, b: np.ndarray, border: int = 12) -> float:
    """PSNR in dB of two [0, 1] images, ``border`` pixels cropped."""
    s = slice(border, -border)
    return float(10 * np.log10(1.0 / np.mean((a[s, s] - b[s, s]) ** 2)))
