"""Colour conversions: MATLAB-compatible BT.601 YCbCr and sRGB <-> linear.

All functions take HWC (or HW for gray) float arrays in [0, 1] and return float arrays of
the same layout, without clipping. They never mutate their input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from restora.errors import ShapeError

if TYPE_CHECKING:
    import torch

# MATLAB rgb2ycbcr (ITU-R BT.601, "studio swing"): for RGB in [0, 1],
# Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255, Cb/Cr offset 128/255.
_RGB_TO_YCBCR = np.array(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]],
    dtype=np.float64,
) / 255.0
_YCBCR_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64) / 255.0


def rgb_to_ycbcr(image: np.ndarray, *, y_only: bool = False) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` for float RGB in [0, 1] (HWC); returns float64 in [0, 1] scale.

    ``y_only=True`` returns the HW luma plane. Y spans [16/255, 235/255] for inputs in [0, 1].
    A gray (C = 1 or HW) input is returned unchanged as its own Y (the SR papers evaluate
    gray images as they are).
    """
    x = np.asarray(image, dtype=np.float64)
    if x.ndim == 2 or x.shape[-1] == 1:
        plane = x if x.ndim == 2 else x[..., 0]
        return plane if y_only else plane[..., None]
    if x.shape[-1] != 3:
        raise ShapeError(f"rgb_to_ycbcr expects HWC with C=3; got shape {x.shape}")
    if y_only:
        return x @ _RGB_TO_YCBCR[0] + _YCBCR_OFFSET[0]
    return x @ _RGB_TO_YCBCR.T + _YCBCR_OFFSET


def ycbcr_to_rgb(image: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr` (MATLAB ``ycbcr2rgb``) for float HWC in [0, 1] scale."""
    x = np.asarray(image, dtype=np.float64)
    return (x - _YCBCR_OFFSET) @ np.linalg.inv(_RGB_TO_YCBCR).T


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB transfer function inverse, float in [0, 1] -> linear light."""
    x = np.asarray(image, dtype=np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(image: np.ndarray) -> np.ndarray:
    """sRGB transfer function, linear light in [0, 1] -> encoded sRGB in [0, 1]."""
    x = np.clip(np.asarray(image, dtype=np.float64), 0.0, None)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


_RGB_TO_JFIF = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float64
)


def rgb_to_ycbcr_jfif(image: np.ndarray) -> np.ndarray:
    """Full-range BT.601 YCbCr as JPEG/JFIF defines it (the planes a JPEG encoder quantises).

    HWC (or ...xC) float RGB in [0, 1] -> float64 YCbCr, Y in [0, 1], Cb/Cr centred on 0.5.
    """
    x = np.asarray(image, dtype=np.float64)
    return x @ _RGB_TO_JFIF.T + np.array([0.0, 0.5, 0.5])


def replace_luma_jfif(rgb: torch.Tensor, luma: Callable[[torch.Tensor], torch.Tensor],
                      ) -> torch.Tensor:
    """RGB with its JFIF luma replaced by ``luma(Y)``, chroma kept: tensors (N, 3, H, W) in
    [0, 1] on any device; ``luma`` maps (N, 1, H, W) float32 Y to the new Y.

    The tensor twin of :func:`rgb_to_ycbcr_jfif` -> new Y -> :func:`ycbcr_jfif_to_rgb`: the
    inverse's Y column is (1, 1, 1), so each channel moves by the change of Y (computed in
    float64 as the array functions are; the result is clipped to [0, 1], float32).
    """
    import torch

    weights = torch.as_tensor(_RGB_TO_JFIF[0], dtype=torch.float64, device=rgb.device)
    x = rgb.to(torch.float64)
    y = (x * weights.view(1, 3, 1, 1)).sum(1, keepdim=True)
    new = luma(y.to(torch.float32)).to(torch.float64)
    return (x + (new - y)).clamp(0, 1).to(torch.float32)


def ycbcr_jfif_to_rgb(image: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr_jfif` (float64, not clipped)."""
    x = np.asarray(image, dtype=np.float64) - np.array([0.0, 0.5, 0.5])
    return x @ np.linalg.inv(_RGB_TO_JFIF).T
