"""Blind estimation of the level of additive white Gaussian noise.

:func:`estimate_sigma` combines two published patch-PCA estimators:

1. Weak-texture patch selection of Liu, Tanaka & Okutomi, "Single-image noise level
   estimation for blind denoising", IEEE TIP 2013: a patch whose summed squared gradient
   (the trace of its gradient covariance) is below the ``1 - 1e-6`` quantile of the
   gamma law that pure noise of the current level would give is "weak texture"; the
   selection is refined for three rounds, using the smallest eigenvalue of the patch
   covariance as the running noise variance (as Liu et al. do).
2. On the final weak-texture patches, the eigenvalue rule of Chen, Zhu & Heng, "An
   Efficient Statistical Method for Image Noise Level Estimation", ICCV 2015: the noise
   variance is the mean of the smallest eigenvalues, over the largest tail whose mean
   equals its median. Unlike the smallest eigenvalue alone, this mean is not biased low
   when few patches remain.

Measured on skimage.data images and BSD68/CBSD68 with synthetic noise (see
``benchmarks/noise_level_accuracy.py``): mean absolute error about 0.3-0.5 (8-bit units)
for sigma 5..50.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from restora.errors import ShapeError
from restora.io.bridge import to_float32

#: Patch side (Liu et al. use 7).
PATCH = 7
#: Quantile of the noise-only gradient-energy law used as the weak-texture threshold.
CONFIDENCE = 1.0 - 1e-6
#: Rounds of patch selection.
ROUNDS = 3
#: Patches are sampled with a stride chosen to keep about this many (cost control).
MAX_PATCHES = 40_000
#: Smaller images use smaller patches, so that patches >= MIN_RATIO x patch dimension.
MIN_RATIO = 8
#: Samples (rows x width x channels) converted to float64 at a time: the patches are read
#: in bands of rows, so a 100-megapixel photo needs a few MB, not 2.4 GB of float64.
BAND_SAMPLES = 1 << 20


#: ``scipy.special.gammaincinv(rank / 2, CONFIDENCE)`` for the ranks that patches of 3-7 px
#: and 1 or 3 channels give (checked against scipy by tests/test_estimate.py): importing
#: scipy.special is about 0.7 s of a CLI call in the automatic mode. Other ranks ask scipy.
_GAMMA_QUANTILES = {
    5: 17.94409343980521, 15: 28.246721249849795, 12: 25.41262606940181,
    36: 45.75119552829924, 21: 33.573254366197, 63: 65.6848510257909,
    32: 42.61577535850588, 96: 88.38878617040905, 45: 52.599064780726216,
    135: 113.97389350283792,
}


def _gamma_quantile(rank: int) -> float:
    """The ``CONFIDENCE`` quantile of the gamma law of shape ``rank / 2`` (scale 1)."""
    if rank in _GAMMA_QUANTILES:
        return _GAMMA_QUANTILES[rank]
    from scipy.special import gammaincinv

    return float(gammaincinv(rank / 2.0, CONFIDENCE))


def _conv_matrix(kernel: np.ndarray, patch: int) -> np.ndarray:
    """Matrix of the 'valid' correlation of ``kernel`` with a flattened patch*patch patch."""
    kh, kw = kernel.shape
    rows = []
    for i in range(patch - kh + 1):
        for j in range(patch - kw + 1):
            m = np.zeros((patch, patch))
            m[i : i + kh, j : j + kw] = kernel
            rows.append(m.ravel())
    return np.asarray(rows)


def _box_sum(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Sums of ``a`` over every h x w window ('valid' positions, top-left indexed)."""
    c = np.pad(a, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return c[h:, w:] - c[:-h, w:] - c[h:, :-w] + c[:-h, :-w]


def _eigenvalues(x: np.ndarray) -> np.ndarray:
    """Ascending eigenvalues (clipped at 0) of the covariance of the rows of ``x`` (N, d)."""
    xc = x - x.mean(axis=0)
    cov = xc.T @ xc / max(x.shape[0] - 1, 1)
    return np.clip(np.linalg.eigvalsh(cov), 0.0, None)


def _tail_mean(eig: np.ndarray) -> float:
    """Chen et al. 2015: mean of the largest ascending tail whose mean is its median."""
    for k in range(len(eig), 0, -1):
        tail = eig[:k]
        tau = tail.mean()
        if np.count_nonzero(tail > tau) == np.count_nonzero(tail < tau):
            return float(tau)
    return float(eig[0])


def _tiny(arr: np.ndarray) -> float:
    """Robust (MAD) noise std from neighbour differences, for images too small for patches."""
    axis = 1 if arr.shape[1] >= arr.shape[0] else 0
    d = np.diff(arr, axis=axis).ravel()
    if d.size == 0:
        return 0.0
    mad = np.median(np.abs(d - np.median(d)))
    return float(1.4826 * mad / math.sqrt(2.0))


#: Std of BT.601 luma for i.i.d. RGB noise of std 1: sqrt(0.299^2 + 0.587^2 + 0.114^2).
LUMA_NOISE_GAIN = float(np.sqrt(0.299**2 + 0.587**2 + 0.114**2))


def estimate_sigma(image: np.ndarray, *, luma_only: bool = False) -> float:
    """Std of additive white Gaussian noise in an image, in 8-bit units (25.0 = 25/255).

    luma_only: for colour JPEGs. Chroma subsampling (4:2:0, the default of Pillow and most
    cameras) smooths the chroma, which fools the joint RGB estimate into ~0.5 on a sigma-15
    image; the full-resolution luma keeps the noise, and its estimate over
    :data:`LUMA_NOISE_GAIN` is the per-channel sigma of independent RGB noise (within 1 of
    the truth for sigma 5-25 on astronaut JPEGs at quality 90-95, 4:4:4 and 4:2:0).

    image: HWC or HW float array in [0, 1], or 8/16-bit samples (k/255, k/65535; not
    modified; read in bands of rows, so its size costs no memory). Colour images are estimated
    jointly: each patch is one vector of patch*patch*C values, so the result is the std
    shared by i.i.d. noise on all channels (for unequal per-channel noise it is close to
    the quadratic mean). Constant images give 0.0. Small images use smaller patches
    (down to 3x3); images too small even for that (about 12x12 gray) fall back to a
    robust (MAD) estimate from neighbour differences, which is rough.
    Citations: Liu, Tanaka & Okutomi, IEEE TIP 2013; Chen, Zhu & Heng, ICCV 2015.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.size == 0:
        raise ShapeError(
            f"estimate_sigma takes a non-empty HW or HWC image; got shape {np.shape(image)}"
        )
    luma = luma_only and arr.shape[2] == 3
    eig = _weak_texture_eigenvalues(arr, units=_luma_units if luma else _units)
    return math.sqrt(_tail_mean(eig)) / (LUMA_NOISE_GAIN if luma else 1.0)


def _units(rows: np.ndarray) -> np.ndarray:
    """Rows of an image in [0, 1] (or 8/16-bit samples) as float64 8-bit units."""
    floats = rows if np.issubdtype(rows.dtype, np.floating) else to_float32(rows)
    return floats.astype(np.float64) * 255.0


def _luma_units(rows: np.ndarray) -> np.ndarray:
    """Rows of an RGB image as their BT.601 luma (HW1), float64 8-bit units."""
    floats = np.asarray(rows, dtype=np.float32) if np.issubdtype(rows.dtype, np.floating) \
        else to_float32(rows)
    luma = floats @ np.array([0.299, 0.587, 0.114], np.float32)
    return luma[..., None].astype(np.float64) * 255.0


# --- real camera noise -----------------------------------------------------------------------

#: Pixel-unshuffle stride of :func:`estimate_real_noise` for correlated noise: at 4 px the
#: residual autocorrelation of in-camera JPEG noise (Nam et al. 2016) is down to ~0.15.
REAL_STRIDE = 4
#: Whiteness (tail mean / median of the weak-texture eigenvalues) below which the noise is
#: treated as spatially correlated: about 1.0 for white noise, 0.1-0.4 for camera JPEGs.
WHITE_RATIO = 0.6


@dataclass(frozen=True)
class RealNoise:
    """Result of :func:`estimate_real_noise`; every sigma is in 8-bit units.

    sigma: per-pixel noise std (quadratic mean over channels), what a residual
        ``noisy - clean`` would show. channels: per-channel std (1 or 3 values).
    white_sigma: :func:`estimate_sigma` (the AWGN model) on the same image.
    whiteness: per-channel mean over channels of (tail-mean / median) of the weak-texture
        patch eigenvalues; ~1 for white noise, << 1 for demosaicked / JPEG camera noise.
    correlated: whether the correlated-noise branch was used (whiteness < WHITE_RATIO).
    """

    sigma: float
    channels: tuple[float, ...]
    white_sigma: float
    whiteness: float
    correlated: bool


def _weak_texture_eigenvalues(
    arr: np.ndarray, patch: int = PATCH,
    units: Callable[[np.ndarray], np.ndarray] = np.asarray,
) -> np.ndarray:
    """Ascending covariance eigenvalues of the weak-texture patches of ``units(arr)`` (HWC,
    8-bit units; ``units`` converts a band of rows at a time and may change the channel
    count): the selection of :func:`estimate_sigma` (Liu et al. 2013)."""
    h, w = arr.shape[:2]
    c = units(arr[:1]).shape[2]
    p = next((q for q in range(patch, 2, -1) if (h - q + 1) * (w - q + 1) >= MIN_RATIO * c * q * q), 0)
    if p == 0:
        return np.full(1, _tiny(units(arr)) ** 2)
    n_pos = (h - p + 1) * (w - p + 1)
    stride = max(1, math.ceil(math.sqrt(n_pos / MAX_PATCHES)))
    energy, x = _sampled_patches(arr, p, stride, units)
    d = x.shape[1]
    k = np.array([[-0.5, 0.0, 0.5]])
    dh, dv = _conv_matrix(k, p), _conv_matrix(k.T, p)
    dd = dh.T @ dh + dv.T @ dv
    rank = int(np.linalg.matrix_rank(dd)) * c
    tau0 = float(2.0 * float(np.trace(dd)) * c / rank * _gamma_quantile(rank))
    if x.shape[0] < 2:
        return np.zeros(1)
    eig = _eigenvalues(x)
    for _ in range(1, ROUNDS):
        ratio = min(d / x.shape[1], 0.25)
        keep = energy < eig[0] / (1.0 - math.sqrt(ratio)) ** 2 * tau0
        if np.count_nonzero(keep) < d:
            break
        energy, x = energy[keep], x[keep]
        eig = _eigenvalues(x)
    return eig


def _sampled_patches(arr: np.ndarray, p: int, stride: int,
                     units: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Gradient energy and pixels of the p x p patches at every ``stride``-th position (rows
    and columns), computed in bands of rows: (energy (N,), patches (N, C*p*p)) in raster order."""
    from numpy.lib.stride_tricks import sliding_window_view

    h, w, c = arr.shape
    per_band = max(1, (BAND_SAMPLES // (w * c) - p) // stride + 1)  # position rows per band
    energies, patches = [], []
    for first in range(0, h - p + 1, stride * per_band):
        last = min(first + stride * (per_band - 1), h - p)
        band = units(arr[first : last + p])
        gh = (band[:, 2:] - band[:, :-2]) / 2.0
        gv = (band[2:] - band[:-2]) / 2.0
        energy = _box_sum((gh**2).sum(2), p, p - 2) + _box_sum((gv**2).sum(2), p - 2, p)
        energies.append(energy[::stride, ::stride].ravel())
        x = sliding_window_view(band, (p, p), axis=(0, 1))[::stride, ::stride]
        patches.append(np.ascontiguousarray(x.reshape(-1, band.shape[2] * p * p)))
    return np.concatenate(energies), np.concatenate(patches)


def estimate_real_noise(image: np.ndarray, *, stride: int = REAL_STRIDE) -> RealNoise:
    """Per-pixel noise std of a photo, for white (AWGN) and real, spatially correlated noise.

    Real camera noise is correlated by demosaicking, in-camera denoising, sharpening and JPEG,
    so the patch-PCA estimator (:func:`estimate_sigma`), which reads the smallest eigenvalues
    of the noise covariance, sees only its weak high-frequency part (0.4 on photos whose
    residual RMS is ~3.5). Here each channel is first tested for whiteness on its weak-texture
    patches (Liu et al. 2013 selection; tail mean over median of the eigenvalues, Chen et al.
    2015). White noise: the result is :func:`estimate_sigma` per channel. Correlated noise:
    each channel is pixel-unshuffled with ``stride`` (sub-images ``x[a::s, b::s]``, which
    breaks the correlation; Zhou et al., "When AWGN-based denoiser meets real noises", AAAI
    2020), and the noise variance is the median eigenvalue of the weak-texture patches of two
    sub-images (the median, not the smallest: the remaining correlation spreads the noise
    eigenvalues). Texture can still raise the correlated estimate on busy photos.

    image: HW, HW1 or HWC (C = 1 or 3) float in [0, 1], not modified; at least ~64x64 px.
    Returns :class:`RealNoise` (8-bit units). Raises ShapeError for other shapes.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.size == 0 or arr.shape[2] not in (1, 3):
        raise ShapeError(f"estimate_real_noise takes an HW, HW1 or HW3 image; got shape {np.shape(image)}")
    if stride < 1:
        raise ShapeError(f"estimate_real_noise: stride must be >= 1, got {stride}")
    x = arr.astype(np.float64) * 255.0
    white = estimate_sigma(arr)
    ratios, white_c = [], []
    for c in range(x.shape[2]):
        eig = _weak_texture_eigenvalues(x[:, :, c : c + 1])
        med = float(np.median(eig))
        tail = _tail_mean(eig)
        ratios.append(tail / med if med > 0 else 1.0)
        white_c.append(math.sqrt(tail))
    whiteness = float(np.mean(ratios))
    correlated = whiteness < WHITE_RATIO and stride > 1
    if not correlated:
        # i.i.d. noise: the joint estimate is the more accurate; per-channel values scaled to it
        q = math.sqrt(float(np.mean(np.square(white_c)))) or 1.0
        chans = tuple(float(v * white / q) for v in white_c)
        return RealNoise(float(white), chans, float(white), whiteness, False)
    offsets = [(0, 0), (stride // 2, stride // 2)]
    chans_l = []
    for c in range(x.shape[2]):
        meds = []
        for a, b in offsets:
            sub = x[a::stride, b::stride, c : c + 1]
            if min(sub.shape[:2]) < 3:
                continue
            meds.append(float(np.median(_weak_texture_eigenvalues(sub))))
        chans_l.append(math.sqrt(float(np.mean(meds))) if meds else white_c[c])
    sigma = math.sqrt(float(np.mean(np.square(chans_l))))
    return RealNoise(sigma, tuple(chans_l), float(white), whiteness, True)
