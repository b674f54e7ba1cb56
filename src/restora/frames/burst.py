"""Burst denoising: merge aligned frames of one exposure into one frame with less noise.

- ``wiener``: the HDR+ merge (Hasinoff et al., "Burst photography for high dynamic range and
  low-light imaging on mobile cameras", SIGGRAPH Asia 2016, section 5): 16-px tiles
  overlapped by half, a raised-cosine window, and per spatial frequency a Wiener-like
  shrinkage of each frame towards the reference, ``T + A (T_ref - T)`` with
  ``A = |D|^2 / (|D|^2 + c sigma^2)``, ``D = T_ref - T``: where a frame differs from the
  reference more than noise does (motion, misalignment) the reference is kept.
- ``mean``: a weighted temporal average with outlier rejection: a pixel of a frame whose
  locally smoothed difference from the reference exceeds 2.5 noise stds loses weight, down
  to 0 at 5 stds.

Frames are HWC (or HW) float in [0, 1] of one size, already aligned (see
:mod:`restora.frames.align`), never modified. ``sigma`` is the noise std of one frame in
8-bit units. Each merge returns ``(merged HWC float32, effective frames)``: the noise of the
merge is about ``sigma / sqrt(effective frames)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from restora.errors import InvalidParameterError
from restora.frames.align import Alignment, _hwc, align, warp

BURST_MERGES = ("wiener", "mean")
#: HDR+ tile side (pixels); tiles overlap by half.
TILE = 16
#: Shrinkage constant ``c`` of the Wiener merge (times the noise variance of one windowed
#: DFT coefficient). On 8-frame synthetic bursts (astronaut, 256 px, shifts up to 6 px,
#: rotations up to 1 degree), aligned by tiles, c = 8 / 16 / 32 / 64 gives 35.0 / 35.8 /
#: 36.0 / 36.0 dB at sigma 10 and 26.4 / 27.3 / 27.8 / 28.0 at sigma 30; unaligned, 32.5 /
#: 32.3 / 31.5 / 30.3 and 24.6 / 24.8 / 24.4 / 23.7 (larger c averages more and rejects less).
WIENER_C = 32.0
#: Outlier rejection of the ``mean`` merge: full weight below this many noise stds of the
#: smoothed difference, none at twice it.
REJECT = 2.5
_FLOOR = 0.25  # noise std floor (8-bit units): quantisation


@dataclass(frozen=True)
class Burst:
    """Result of :func:`merge_burst`: the ``merged`` frame (HWC float32), the ``effective``
    number of frames, each frame's ``alignments``, and ``sigma``, the noise std of one frame
    (8-bit units) the merge used (given, or :func:`burst_noise`)."""

    merged: np.ndarray
    effective: float
    alignments: list[Alignment]
    sigma: float


def burst_noise(frames: Sequence[np.ndarray], *, reference: int = 0,
                valid: Sequence[np.ndarray | None] | None = None, bins: int = 8
                ) -> tuple[float, np.ndarray]:
    """``(sigma, sigma_map)``: the noise std of one frame (8-bit units) measured on the burst
    itself, overall and per pixel (HW float32), from aligned frames.

    The difference of two aligned frames is the noise of both (std ``sigma * sqrt(2)``) plus
    whatever moved or is misaligned; its median absolute deviation ignores the latter. This
    holds for camera noise, which is neither white nor of one level: the map takes the
    deviation per band of the reference's brightness (``bins`` quantile bands), so brighter
    pixels get their own (shot-noise) level. Needs two or more frames.
    """
    imgs = [_hwc(f) for f in frames]
    ref = imgs[reference]
    luma = ref.mean(axis=2)
    diffs, levels = [], []
    for k, img in enumerate(imgs):
        if k == reference:
            continue
        keep = np.ones(luma.shape, bool) if valid is None or valid[k] is None \
            else np.asarray(valid[k], bool)
        diffs.append((img - ref)[keep].ravel())
        levels.append(np.repeat(luma[keep], ref.shape[2]))
    if not diffs:
        raise InvalidParameterError("burst_noise needs two or more frames")
    d = np.concatenate(diffs).ravel()
    lv = np.concatenate(levels).ravel()

    def robust_std(x: np.ndarray) -> float:
        return float(1.4826 * np.median(np.abs(x - np.median(x))) / np.sqrt(2.0)) if x.size else 0.0

    overall = robust_std(d) * 255.0
    edges = np.quantile(lv, np.linspace(0, 1, bins + 1))
    centres, stds = [], []
    for lo, hi in itertools.pairwise(edges):
        inside = (lv >= lo) & (lv <= hi)
        if inside.sum() >= 64:
            centres.append(float(np.median(lv[inside])))
            stds.append(robust_std(d[inside]) * 255.0)
    sigma_map = np.interp(luma, centres, stds) if centres else np.full(luma.shape, overall)
    return max(overall, _FLOOR), np.maximum(sigma_map, _FLOOR).astype(np.float32)


def merge(frames: Sequence[np.ndarray], *, reference: int = 0, sigma: float | np.ndarray,
          method: str = "wiener", valid: Sequence[np.ndarray | None] | None = None
          ) -> tuple[np.ndarray, float]:
    """Merge aligned frames (``method`` wiener | mean); ``sigma``: the noise std of one frame
    in 8-bit units, a number or an HW map (:func:`burst_noise`); ``valid``: per frame an HW
    bool mask of pixels that exist (outside it the reference is used). Returns ``(merged,
    effective frames)``."""
    if method not in BURST_MERGES:
        raise InvalidParameterError(
            f"burst merge must be one of {', '.join(BURST_MERGES)}; got {method!r}")
    imgs = [_hwc(f) for f in frames]
    ref = imgs[reference]
    filled = []
    for k, img in enumerate(imgs):  # outside a frame: the reference's pixels
        keep = None if valid is None or valid[k] is None else np.asarray(valid[k], bool)
        filled.append(img if keep is None or keep.all() else np.where(keep[..., None], img, ref))
    order = [reference] + [k for k in range(len(imgs)) if k != reference]
    stack = [filled[k] for k in order]
    s = np.maximum(np.asarray(sigma, np.float64), _FLOOR) / 255.0
    return (wiener_merge(stack, sigma=s) if method == "wiener" else robust_mean(stack, sigma=s))


def merge_burst(frames: Sequence[np.ndarray], *, sigma: float | None = None,
                method: str = "wiener", align_method: str = "tiles", reference: int = 0,
                progress: Callable[[int, int], None] | None = None) -> Burst:
    """Align a burst to its ``reference`` frame (``align_method`` off | mtb | ecc | tiles)
    and :func:`merge` it. ``sigma``: the noise std of one frame (8-bit units); ``None``:
    measured on the aligned burst (:func:`burst_noise`, per pixel)."""
    count = len(frames)
    alignments = align(frames, reference=reference, method=align_method, progress=progress)
    aligned, valid = zip(*(warp(f, a) for f, a in zip(frames, alignments)))
    if sigma is None and count > 1:
        sigma, noise = burst_noise(aligned, reference=reference, valid=valid)
    else:
        sigma = _FLOOR if sigma is None else float(sigma)
        noise = sigma
    merged, effective = merge(aligned, reference=reference, sigma=noise, method=method,
                              valid=valid)
    if progress is not None:
        progress(count + 1, count + 1)
    return Burst(merged, effective, list(alignments), float(sigma))


def _window(n: int) -> np.ndarray:
    """HDR+'s modified raised cosine, ``1/2 - 1/2 cos(2 pi (x + 1/2) / n)``: overlapped by
    half, the windows sum to 1."""
    x = np.arange(n, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * (x + 0.5) / n)


def wiener_merge(stack: Sequence[np.ndarray], *, sigma: float, tile: int = TILE,
                 c: float = WIENER_C) -> tuple[np.ndarray, float]:
    """HDR+ merge of ``stack`` (reference first; HWC float32), ``sigma`` in [0, 1] units (a
    number, or an HW map: each tile takes its mean noise variance).

    Returns ``(merged, effective frames)``, the effective count from the per-coefficient
    noise variance of the merge, ``((1 + sum A)^2 + sum (1 - A)^2) / N^2`` of one frame's,
    averaged over coefficients and tiles.
    """
    ref = stack[0]
    h, w, channels = ref.shape
    half = tile // 2
    n = len(stack)
    ny, nx = -(-(h + half) // half), -(-(w + half) // half)
    pad_h, pad_w = (ny + 1) * half - h - half, (nx + 1) * half - w - half
    win = _window(tile)
    win2 = np.outer(win, win).astype(np.float32)
    noise_var = np.asarray(sigma, np.float64) ** 2
    if noise_var.ndim == 2:  # per tile: the mean variance under it
        padded = np.pad(noise_var, ((half, pad_h), (half, pad_w)), mode="edge")
        noise_var = _tiles(padded, tile, half).mean(axis=(2, 3))[..., None, None]
    noise = noise_var * float((win2**2).sum())  # variance of one windowed DFT coefficient
    out = np.zeros((h + half + pad_h, w + half + pad_w, channels), np.float64)
    variance = 0.0
    def spectrum(plane: np.ndarray) -> np.ndarray:
        padded = np.pad(plane, ((half, pad_h), (half, pad_w)), mode="reflect")
        return np.fft.rfft2(_tiles(padded, tile, half) * win2)

    for c_ in range(channels):
        t0 = spectrum(ref[..., c_])
        total = t0.copy()
        shrink_sum = np.zeros(t0.shape, np.float64)
        keep_sq = np.zeros(t0.shape, np.float64)
        for img in stack[1:]:  # one frame's spectrum at a time
            tz = spectrum(img[..., c_])
            d = t0 - tz
            d2 = d.real**2 + d.imag**2
            a = d2 / (d2 + c * noise)
            total += tz + a * d
            shrink_sum += a
            keep_sq += (1.0 - a) ** 2
        merged = np.fft.irfft2(total / n, s=(tile, tile))
        variance += float((((1.0 + shrink_sum) ** 2 + keep_sq) / n**2).mean())
        _overlap_add(out[..., c_], merged, half)
    result = out[half:half + h, half:half + w].astype(np.float32)
    return np.clip(result, 0.0, 1.0), channels / max(variance, 1e-12)


def _tiles(plane: np.ndarray, tile: int, step: int) -> np.ndarray:
    """(ny, nx, tile, tile) view of overlapping tiles of an HW plane, ``step`` apart."""
    view = np.lib.stride_tricks.sliding_window_view(plane, (tile, tile))
    return view[::step, ::step]


def _overlap_add(out: np.ndarray, tiles: np.ndarray, step: int) -> None:
    ny, nx, tile, _ = tiles.shape
    for i in range(tile // step):
        for j in range(tile // step):
            block = tiles[:, :, i * step:(i + 1) * step, j * step:(j + 1) * step]
            rows = block.transpose(0, 2, 1, 3).reshape(ny * step, nx * step)
            out[i * step:i * step + ny * step, j * step:j * step + nx * step] += rows


def robust_mean(stack: Sequence[np.ndarray], *, sigma: float) -> tuple[np.ndarray, float]:
    """Weighted temporal mean of ``stack`` (reference first), ``sigma`` in [0, 1] units.

    A frame's weight at a pixel is 1 while its Gaussian-smoothed (1.5 px) difference from
    the reference stays within :data:`REJECT` noise stds of that smoothed difference
    (largest over channels), falling linearly to 0 at twice that. Returns ``(merged,
    effective frames)``, the latter ``(sum w)^2 / sum w^2`` averaged over pixels.
    """
    import cv2

    ref = stack[0]
    shrink = 1.0 / (2.0 * np.sqrt(np.pi) * 1.5)
    scale = REJECT * np.sqrt(2.0) * np.asarray(sigma, np.float64) * shrink
    total = ref.astype(np.float64).copy()
    weight_sum = np.ones(ref.shape[:2], np.float64)
    weight_sq = np.ones(ref.shape[:2], np.float64)
    for img in stack[1:]:
        diff = cv2.GaussianBlur(img - ref, (0, 0), 1.5).reshape(ref.shape)
        ratio = np.abs(diff).max(axis=2) / scale
        wz = np.clip(2.0 - ratio, 0.0, 1.0)
        total += wz[..., None] * img
        weight_sum += wz
        weight_sq += wz**2
    merged = (total / weight_sum[..., None]).astype(np.float32)
    return np.clip(merged, 0.0, 1.0), float((weight_sum**2 / weight_sq).mean())


__all__ = ["BURST_MERGES", "REJECT", "TILE", "WIENER_C", "Burst", "burst_noise", "merge",
           "merge_burst", "robust_mean", "wiener_merge"]
