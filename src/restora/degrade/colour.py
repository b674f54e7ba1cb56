"""Colour augmentation for training: stronger, shifted and clipped colours than BSD's.

The colour training photos (BSD) are muted and rarely clip; photos from phones are
saturated, warm or cold, and bright colours clip in one channel. :func:`colour_jitter`
re-renders a clean patch the way a different camera or edit would: white balance in linear
light, exposure (highlights clip per channel), saturation and a hue rotation about the gray
axis. It changes the *clean* image (the degradation is applied afterwards), so the network
sees more colours, never a different noise.
"""

from __future__ import annotations

import math

import numpy as np

from restora.color import linear_to_srgb, srgb_to_linear

#: Per-channel white-balance gain range (linear light, normalised so green keeps its level).
WB_RANGE = (0.75, 1.33)
#: Exposure gain range in stops (linear light); >0 pushes highlights into clipping.
EXPOSURE_STOPS = (-1.0, 1.0)
#: Saturation scale range (chroma about the pixel's luma, in gamma-encoded sRGB).
SATURATION_RANGE = (0.6, 2.0)
#: Hue rotation range, degrees (about the gray axis of gamma-encoded sRGB).
HUE_DEGREES = 25.0

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def hue_rotation(degrees: float) -> np.ndarray:
    """3x3 matrix rotating RGB vectors by ``degrees`` about the gray axis (1, 1, 1):
    gray stays gray and every colour keeps its distance from the gray axis (Rodrigues)."""
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    k = 1.0 / math.sqrt(3.0)
    cross = np.array([[0, -k, k], [k, 0, -k], [-k, k, 0]])
    outer = np.full((3, 3), k * k)
    return (c * np.eye(3) + s * cross + (1 - c) * outer).astype(np.float32)


def colour_jitter(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    white_balance: tuple[float, float] = WB_RANGE,
    exposure_stops: tuple[float, float] = EXPOSURE_STOPS,
    saturation: tuple[float, float] = SATURATION_RANGE,
    hue_degrees: float = HUE_DEGREES,
) -> np.ndarray:
    """A colour variant of ``image`` (HWC float RGB in [0, 1]; returned float32 in [0, 1]).

    In order: white-balance gains (uniform in ``white_balance`` for red and blue, green 1)
    and an exposure gain (``2**u``, u uniform in ``exposure_stops``) in linear light,
    clipped at 1 per channel (a bright red saturates in red only, as in a camera); then, in
    sRGB, saturation scaled about the luma (factor uniform in ``saturation``) and the hue
    rotated (uniform in +-``hue_degrees``), clipped to [0, 1]. Gray images (HW or 1
    channel) are returned unchanged (as float32).
    """
    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 2 or x.shape[2] != 3:
        return x.copy()
    gains = np.array([rng.uniform(*white_balance), 1.0, rng.uniform(*white_balance)],
                     dtype=np.float32) * np.float32(2.0 ** rng.uniform(*exposure_stops))
    y = linear_to_srgb(np.clip(srgb_to_linear(x) * gains, 0.0, 1.0)).astype(np.float32)
    luma = y @ _LUMA
    y = luma[..., None] + np.float32(rng.uniform(*saturation)) * (y - luma[..., None])
    y = y @ hue_rotation(float(rng.uniform(-hue_degrees, hue_degrees))).T
    return np.clip(y, 0.0, 1.0).astype(np.float32)


__all__ = ["EXPOSURE_STOPS", "HUE_DEGREES", "SATURATION_RANGE", "WB_RANGE", "colour_jitter",
           "hue_rotation"]
