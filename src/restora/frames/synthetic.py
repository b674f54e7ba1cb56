"""Synthetic frames with known truth, for tests and benchmarks: exposure brackets of a known
linear radiance image, and bursts of a clean image with known motion and noise.

Both are seeded (``rng``) and return the ground truth the merges should recover: brackets
come from ``radiance x time`` through a camera response, clipping and 8-bit quantisation;
bursts from warping a larger clean image (shift + rotation about the centre), then adding
white Gaussian noise or camera noise (:mod:`restora.degrade.camera`: unprocess, Poisson-
Gaussian sensor noise, process) with one camera for every frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from restora.degrade.camera import add_camera_noise, process, smoothstep, unprocess
from restora.errors import InvalidParameterError
from restora.frames.align import Alignment, _hwc


def camera_response(x: np.ndarray) -> np.ndarray:
    """A camera's response, linear exposure in [0, 1] -> value in [0, 1]: gamma 1/2.2 then
    the smoothstep tone curve (Brooks et al. 2019); monotone, and not a power law."""
    return smoothstep(np.clip(x, 0.0, 1.0) ** (1.0 / 2.2))


def brackets(radiance: np.ndarray, times: Sequence[float], *,
             response: Callable[[np.ndarray], np.ndarray] = camera_response,
             shifts: Sequence[tuple[float, float]] | None = None, sigma: float = 0.0,
             bits: int = 8, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Exposures of a linear ``radiance`` image (HWC float >= 0): frame ``k`` is
    ``quantise(response(clip(radiance(x + shift_k) * times[k])) + noise)``.

    shifts: per frame ``(dx, dy)`` in pixels, the frame's :class:`Alignment` translation
    (``frame(x + shift) = reference(x)``; bicubic on the radiance, borders replicated).
    sigma: std of white noise added before quantisation (8-bit units). bits: 8 or 16.
    Returns HWC float32 frames in [0, 1].
    """
    import cv2

    rad = _hwc(radiance, "radiance").astype(np.float32)
    if bits not in (8, 16):
        raise InvalidParameterError(f"bits must be 8 or 16; got {bits}")
    levels = 2**bits - 1
    rng = np.random.default_rng(0) if rng is None else rng
    out = []
    for k, t in enumerate(times):
        scene = rad
        if shifts is not None and tuple(shifts[k]) != (0, 0):
            dx, dy = shifts[k]
            m = np.float32([[1, 0, -dx], [0, 1, -dy]])  # frame(p) = radiance(p - shift)
            scene = cv2.warpAffine(rad, m, (rad.shape[1], rad.shape[0]),
                                   flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REPLICATE).reshape(rad.shape)
        value = response(np.clip(scene * float(t), 0.0, 1.0))
        if sigma > 0:
            value = value + rng.normal(0.0, sigma / 255.0, value.shape)
        out.append((np.floor(np.clip(value, 0.0, 1.0) * levels + 0.5) / levels).astype(np.float32))
    return out


def burst(image: np.ndarray, count: int, *, size: tuple[int, int] | None = None,
          max_shift: float = 6.0, max_rotation: float = 1.0, sigma: float | None = None,
          shot: float | None = None, read: float | None = None,
          rng: np.random.Generator | None = None
          ) -> tuple[np.ndarray, list[np.ndarray], list[Alignment]]:
    """``(clean, frames, truth)``: a burst of ``count`` frames of the centre of ``image``.

    Frame 0 is the reference (no motion); every other frame is shifted by up to
    ``max_shift`` px (uniform, each axis) and rotated by up to ``max_rotation`` degrees about
    its centre. size: ``(height, width)`` of the frames (default: ``image`` less
    ``max_shift + 8`` px of margin on every side). Noise: white Gaussian of std ``sigma``
    (8-bit units), or camera noise of variances ``shot``/``read`` (raw scale, RGB images)
    through one random camera for all frames; ``clean`` is the reference frame without
    noise (through the same camera). ``truth``: each frame's exact :class:`Alignment`.
    """
    import cv2

    rng = np.random.default_rng(0) if rng is None else rng
    src = _hwc(image).astype(np.float32)
    height, width = src.shape[:2]
    margin = int(np.ceil(max_shift)) + 8
    h, w = size if size is not None else (height - 2 * margin, width - 2 * margin)
    if h + 2 * margin > height or w + 2 * margin > width:
        raise InvalidParameterError(
            f"burst: a {w}x{h} burst with {max_shift} px of motion needs an image of at least "
            f"{w + 2 * margin}x{h + 2 * margin}; got {width}x{height}")
    top, left = (height - h) // 2, (width - w) // 2
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    frames, truth = [], []
    for k in range(count):
        shift = np.zeros(2) if k == 0 else rng.uniform(-max_shift, max_shift, 2)
        angle = 0.0 if k == 0 else np.deg2rad(rng.uniform(-max_rotation, max_rotation))
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        # frame(p) = image(T p), T p = rot (p - c) + c + offset + shift
        offset = np.array([left, top], np.float64)
        t = np.hstack([rot, (centre + offset + shift - rot @ centre)[:, None]])
        frame = cv2.warpAffine(src, t, (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT).reshape(h, w, src.shape[2])
        frames.append(np.clip(frame, 0.0, 1.0))
        # reference(x) = image(x + offset) = frame(M x) with M = T^-1 (x + offset)
        inv = np.linalg.inv(np.vstack([t, [0, 0, 1]]))
        m = inv @ np.vstack([np.hstack([np.eye(2), offset[:, None]]), [0, 0, 1]])
        truth.append(Alignment() if k == 0 else Alignment(matrix=m[:2]))
    clean = frames[0].copy()
    if shot is not None or read is not None:
        seed = int(rng.integers(2**32))
        noisy = []
        for k, frame in enumerate(frames):
            raw, meta = unprocess(frame, np.random.default_rng(seed))  # one camera for all
            if k == 0:
                clean = process(raw, meta).astype(np.float32)
            noisy.append(process(add_camera_noise(raw, shot or 0.0, read or 0.0, rng), meta))
        frames = [np.clip(f, 0.0, 1.0).astype(np.float32) for f in noisy]
    elif sigma is not None and sigma > 0:
        frames = [np.clip(f + rng.normal(0.0, sigma / 255.0, f.shape), 0.0, 1.0).astype(np.float32)
                  for f in frames]
    return clean, frames, truth


__all__ = ["brackets", "burst", "camera_response"]
