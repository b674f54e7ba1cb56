"""Classical restoration methods: denoisers, interpolating upscalers, non-blind deconvolution.

Every method takes and returns an HWC float32 image in [0, 1] (C = 1 or 3) and never
modifies its input; options are keyword-only and use the shared names (``sigma`` in 8-bit
units, ``scale``, ``kernel``). Heavy libraries are imported inside the functions.

Parameter rules that depend on ``sigma`` (NLM ``h``, TV weight) were tuned by grid search
on five ``train400_gray`` crops and three 256x256 ``skimage.data`` crops (astronaut,
chelsea, coffee) at sigma 5/15/25/50; never on the BSD68/CBSD68 test sets.
"""

from __future__ import annotations

import numpy as np

from restora._optional import require
from restora.degrade import imresize
from restora.degrade.kernels import check_kernel
from restora.errors import InvalidParameterError
from restora.methods.registry import register_method
from restora.options import check_sigma

# --- helpers ------------------------------------------------------------------------------


def _sigma(sigma: float | None, name: str) -> float:
    """Validated noise level in 8-bit units (finite, >= 0)."""
    return check_sigma(
        sigma, method=name,
        required=" when the function is called directly; run it through the registry to estimate it.",
    )


def _out(x: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Clip to [0, 1], float32, HWC with the channel count of ``like``."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    return np.clip(x, 0.0, 1.0).reshape(x.shape[0], x.shape[1], like.shape[2])


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _planar(image: np.ndarray) -> np.ndarray:
    """Float64 copy: HW for gray HWC images, HWC otherwise (never the caller's array)."""
    x = np.asarray(image, dtype=np.float64)
    return x[:, :, 0].copy() if x.shape[2] == 1 else x.copy()


# --- denoising ----------------------------------------------------------------------------

#: NLM filter strength h / sigma, interpolated in sigma (OpenCV weights exp(-d^2 / h^2),
#: d^2 = mean squared patch difference in 8-bit units). The same rule serves gray and RGB:
#: on RGB, joint-channel patches (fastNlMeansDenoising on 3 channels) beat OpenCV's CIELAB
#: fastNlMeansDenoisingColored by 1.5-2 dB at sigma 15-50 in the tuning runs.
NLM_RULE = ((5.0, 15.0, 25.0, 50.0), (1.1, 0.95, 0.9, 0.8))


@register_method(
    "nlm",
    task="denoise",
    description="Non-local means (OpenCV fast NLM, 7x7 patches, 21x21 search), h tuned to sigma",
    needs_sigma=True,
    halo=16,
    citation="Buades, Coll & Morel, 'A non-local algorithm for image denoising', CVPR 2005",
)
def nlm(image: np.ndarray, *, sigma: float | None = None) -> np.ndarray:
    """Non-local means denoising; image HWC float32 [0, 1], sigma in 8-bit units.

    ``cv2.fastNlMeansDenoising`` (7x7 patches, 21x21 search) on the image quantised to uint8
    (the noisy input is clipped to [0, 1] first), with ``h = a(sigma) * sigma`` and ``a``
    interpolated from :data:`NLM_RULE`; RGB patches compare all three channels jointly.
    """
    import cv2

    s = _sigma(sigma, "nlm")
    if s == 0:
        return _out(image, image)
    u8 = np.ascontiguousarray(_to_uint8(np.asarray(image)))
    if u8.shape[2] == 1:
        u8 = np.ascontiguousarray(u8[:, :, 0])
    h = float(np.interp(s, *NLM_RULE)) * s
    out = cv2.fastNlMeansDenoising(u8, None, h, 7, 21)
    return _out(out.astype(np.float32) / 255.0, image)


#: JPEG quality -> sigma (8-bit units) at which :func:`nlm` best removes that quality's
#: artefacts: the sigma maximising the mean RGB PSNR on 8 bsd400_color training images
#: (BSDS500 train/test; no test set) compressed by Pillow at each quality (4:2:0), measured
#: by ``benchmarks/auto_jpeg_sigma.py``; linear in between, constant outside. The gains are
#: modest (+0.55, +0.32, +0.23, +0.13, +0.05, +0.04 dB at those qualities): the classical
#: fallback of the shipped learned deblocker.
JPEG_SIGMA_RULE = ((10, 20, 30, 50, 70, 90), (10.0, 7.0, 5.0, 4.0, 3.0, 2.0))


def jpeg_sigma(quality: int) -> float:
    """The NLM deblocking sigma (8-bit units) for a JPEG quality (:data:`JPEG_SIGMA_RULE`)."""
    return float(np.interp(quality, *JPEG_SIGMA_RULE))


@register_method(
    "jpeg_nlm",
    task="deblock",
    description="JPEG deblocking by non-local means at the sigma measured best for the quality",
    halo=16,
    citation="Buades, Coll & Morel, 'A non-local algorithm for image denoising', CVPR 2005",
)
def jpeg_nlm(image: np.ndarray, *, quality: int | None = None) -> np.ndarray:
    """Remove JPEG artefacts with :func:`nlm` at :func:`jpeg_sigma` of the input's quality
    (1..100; restora reads it from the file's quantisation tables). Raises
    :class:`InvalidParameterError` without a quality."""
    if quality is None:
        raise InvalidParameterError(
            "method 'jpeg_nlm' needs the JPEG quality of the input: it is read from a JPEG "
            "file's quantisation tables; for other inputs give --quality"
        )
    return nlm(image, sigma=jpeg_sigma(int(quality)))


#: TV weight (skimage units, image in [0, 1]) = a(sigma) * sigma / 255, ``a`` interpolated
#: from this table (the same for gray and RGB).
TV_RULE = ((5.0, 15.0, 25.0, 50.0), (0.5, 0.7, 0.85, 1.0))


@register_method(
    "tv",
    task="denoise",
    description="Total-variation (ROF) denoising, Chambolle's algorithm, weight tuned to sigma",
    needs_sigma=True,
    halo=-1,
    citation=(
        "Rudin, Osher & Fatemi, Physica D 1992; Chambolle, 'An algorithm for total variation "
        "minimization and applications', JMIV 2004"
    ),
)
def tv(image: np.ndarray, *, sigma: float | None = None) -> np.ndarray:
    """ROF total-variation denoising (``skimage.restoration.denoise_tv_chambolle``).

    image HWC float32 [0, 1]; sigma in 8-bit units; weight = a(sigma) * sigma / 255 with
    ``a`` from :data:`TV_RULE`; colour channels are coupled (vectorial TV).
    """
    from skimage.restoration import denoise_tv_chambolle

    s = _sigma(sigma, "tv")
    if s == 0:
        return _out(image, image)
    weight = float(np.interp(s, *TV_RULE)) * s / 255.0
    x = _planar(image)
    out = denoise_tv_chambolle(x, weight=weight, channel_axis=None if x.ndim == 2 else -1)
    return _out(out, image)


#: Wavelets of the BayesShrink denoiser (tuned: on 180x180 gray crops Haar wins by 0.4-1.5 dB
#: at sigma 25-50; on RGB db2 in YCbCr wins by 0.3-1.3 dB over Haar and over RGB).
WAVELET_GRAY = "db1"
WAVELET_RGB = "db2"


@register_method(
    "wavelet",
    task="denoise",
    description="Wavelet BayesShrink soft thresholding (skimage), with the given sigma",
    needs_sigma=True,
    halo=-1,
    citation=(
        "Chang, Yu & Vetterli, 'Adaptive wavelet thresholding for image denoising and "
        "compression', IEEE TIP 2000"
    ),
)
def wavelet(image: np.ndarray, *, sigma: float | None = None) -> np.ndarray:
    """BayesShrink wavelet denoising (``skimage.restoration.denoise_wavelet``, soft thresholds).

    image HWC float32 [0, 1]; sigma in 8-bit units (passed as sigma/255). Gray: Haar; RGB:
    db2 on YCbCr channels (skimage converts sigma to each channel).
    """
    from skimage.restoration import denoise_wavelet

    s = _sigma(sigma, "wavelet")
    if s == 0:
        return _out(image, image)
    x = _planar(image)
    out = denoise_wavelet(
        x,
        sigma=s / 255.0,
        wavelet=WAVELET_GRAY if x.ndim == 2 else WAVELET_RGB,
        mode="soft",
        method="BayesShrink",
        rescale_sigma=True,
        channel_axis=None if x.ndim == 2 else -1,
        convert2ycbcr=x.ndim == 3,
    )
    return _out(out, image)


#: Images smaller than this (either side) are mirror-padded before BM3D, then cropped.
BM3D_MIN_SIZE = 16


@register_method(
    "bm3d",
    task="denoise",
    description="BM3D collaborative filtering (the 'bm3d' package; RGB via opponent colour space)",
    needs_sigma=True,
    halo=32,
    citation=(
        "Dabov, Foi, Katkovnik & Egiazarian, 'Image denoising by sparse 3-D transform-domain "
        "collaborative filtering', IEEE TIP 2007"
    ),
)
def bm3d(image: np.ndarray, *, sigma: float | None = None) -> np.ndarray:
    """BM3D denoising; image HWC float32 [0, 1], sigma in 8-bit units (sigma_psd = sigma/255).

    Gray uses ``bm3d.bm3d``, RGB the computation of ``bm3d.bm3d_rgb`` (opponent colour
    transform), guarded against channels with no range.
    Needs the optional ``bm3d`` package (``pip install 'restora[bm3d]'``).
    """
    lib = require("bm3d", extra="bm3d", purpose="the 'bm3d' denoiser")
    s = _sigma(sigma, "bm3d")
    if s == 0 or np.ptp(image) == 0:  # nothing to denoise (the package fails on flat input)
        return _out(image, image)
    x = _planar(image)
    h, w = x.shape[:2]
    # the package needs at least one 8x8 block (and a few for matching): mirror-pad small images
    ph, pw = max(0, BM3D_MIN_SIZE - h), max(0, BM3D_MIN_SIZE - w)
    if ph or pw:
        x = np.pad(x, ((0, ph), (0, pw)) + ((0, 0),) * (x.ndim - 2), mode="symmetric")
    out = lib.bm3d(x, sigma_psd=s / 255.0) if x.ndim == 2 else _bm3d_rgb(lib, x, s / 255.0)
    return _out(out[:h, :w], image)


#: Opponent colour transform of ``bm3d.bm3d_rgb`` (forward and inverse).
_OPP = np.array([[1 / 3, 1 / 3, 1 / 3], [0.5, 0.0, -0.5], [0.25, -0.5, 0.25]])
_OPP_INV = np.array([[1.0, 1.0, 2 / 3], [1.0, 0.0, -4 / 3], [1.0, -1.0, 2 / 3]])


def _bm3d_rgb(lib: object, x: np.ndarray, std: float) -> np.ndarray:
    """``bm3d.bm3d_rgb(x, std)`` (opponent colour space, each channel scaled to [0, 1]).

    The same computation as the package's, except that a channel with no range (a gray
    image stored as RGB, a flat tile) is not divided by zero (the package returns NaN).
    """
    o = x.reshape(-1, 3) @ _OPP.T
    lo = o.min(axis=0)
    span = o.max(axis=0) - lo
    span = np.where(span > 1e-6, span, 1.0)  # a flat channel stays flat (0 after shifting)
    z = ((o - lo) / span).reshape(x.shape)
    stds = std * np.sqrt(np.sum(_OPP**2, axis=1)) / span
    y = lib.bm3d(z, stds.reshape(1, 1, 3))  # type: ignore[attr-defined]
    return ((np.asarray(y).reshape(-1, 3) * span + lo) @ _OPP_INV.T).reshape(x.shape)


# --- upscaling ----------------------------------------------------------------------------

UPSCALE_FACTORS: tuple[int, ...] = tuple(range(1, 9))


def _scale(scale: int | None, name: str) -> int:
    if scale is None:
        raise InvalidParameterError(
            f"method {name!r}: scale is required (an integer factor in {UPSCALE_FACTORS}, e.g. 4)"
        )
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)):
        if isinstance(scale, float) and scale.is_integer():
            scale = int(scale)
        else:
            raise InvalidParameterError(
                f"method {name!r}: scale must be an integer in {UPSCALE_FACTORS}; got {scale!r}"
            )
    if int(scale) not in UPSCALE_FACTORS:
        raise InvalidParameterError(
            f"method {name!r}: scale must be an integer in {UPSCALE_FACTORS}; got {scale!r}"
        )
    return int(scale)


@register_method(
    "bicubic",
    task="upscale",
    description="MATLAB-compatible bicubic interpolation (imresize, a = -0.5)",
    scales=UPSCALE_FACTORS,
    halo=4,
    citation="Keys, 'Cubic convolution interpolation for digital image processing', TASSP 1981",
)
def bicubic(image: np.ndarray, *, scale: int | None = None) -> np.ndarray:
    """Upscale by an integer factor exactly like MATLAB ``imresize(image, scale)``.

    image HWC float32 [0, 1] -> (scale*H, scale*W, C) float32, clipped to [0, 1].
    """
    s = _scale(scale, "bicubic")
    return _out(imresize(np.asarray(image, dtype=np.float32), float(s)), image)


@register_method(
    "lanczos",
    task="upscale",
    description="Lanczos-4 (8x8 taps) interpolation (OpenCV INTER_LANCZOS4)",
    scales=UPSCALE_FACTORS,
    halo=6,
    citation="Duchon, 'Lanczos filtering in one and two dimensions', J. Appl. Meteorology 1979",
)
def lanczos(image: np.ndarray, *, scale: int | None = None) -> np.ndarray:
    """Upscale by an integer factor with ``cv2.resize(..., INTER_LANCZOS4)`` (centres aligned).

    image HWC float32 [0, 1] -> (scale*H, scale*W, C) float32, clipped to [0, 1].
    """
    import cv2

    s = _scale(scale, "lanczos")
    x = np.ascontiguousarray(np.asarray(image, dtype=np.float32))
    h, w = x.shape[:2]
    out = cv2.resize(x, (w * s, h * s), interpolation=cv2.INTER_LANCZOS4)
    return _out(out, image)


# --- deblurring ---------------------------------------------------------------------------


def _otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """FFT of ``kernel`` zero-padded to ``shape`` with its origin (kh//2, kw//2) moved to (0, 0)."""
    kh, kw = kernel.shape
    pad = np.zeros(shape)
    pad[:kh, :kw] = kernel
    pad = np.roll(pad, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    return np.fft.rfft2(pad)


def _mirror_extend(x: np.ndarray, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2H x 2W symmetric extension of HWC ``x`` (periodic and continuous) and the kernel's OTF.

    Circular convolution on the extension equals convolution with half-sample symmetric
    boundaries (exact for symmetric kernels), so FFT deconvolution shows no edge ringing.
    The extension is repeated when the kernel is larger than one period.
    """
    ext = np.concatenate([x, x[::-1]], axis=0)
    ext = np.concatenate([ext, ext[:, ::-1]], axis=1)
    reps = (-(-kernel.shape[0] // ext.shape[0]), -(-kernel.shape[1] // ext.shape[1]), 1)
    ext = np.tile(ext, reps)
    return ext, _otf(kernel, ext.shape[:2])


#: Lowest noise level used for the Wiener regularisation (8-bit quantisation noise ~0.3).
WIENER_MIN_SIGMA = 0.5
#: Scale of the Wiener noise-to-signal ratio (tuned on train400_gray crops + astronaut with
#: Gaussian and Levin kernels at noise 0-5: 0.2-0.3 raises PSNR in every case tried).
WIENER_NSR_SCALE = 0.25


@register_method(
    "wiener",
    task="deblur",
    description="Wiener deconvolution with the given kernel and a 1/f^2 image spectrum model",
    needs_sigma=True,
    needs_kernel=True,
    halo=-1,
    citation="Wiener, 'Extrapolation, Interpolation, and Smoothing of Stationary Time Series' 1949",
)
def wiener(
    image: np.ndarray, *, kernel: np.ndarray | None = None, sigma: float | None = None
) -> np.ndarray:
    """Frequency-domain Wiener deconvolution ``X = conj(K) Y / (|K|^2 + N / P(w))``.

    image: blurred HWC float32 [0, 1]; kernel: 2-D blur kernel (normalised to sum 1, origin
    (kh//2, kw//2) as in :func:`restora.degrade.blur`); sigma: noise std, 8-bit units
    (floored at 0.5). Noise power ``N = (sigma/255)^2``; the signal power spectrum is
    modelled as ``P(w) = g2 / |D(w)|^2`` (natural images fall off as 1/f^2), where
    ``|D(w)|^2`` is the spectrum of the finite-difference gradient and ``g2`` the mean
    squared gradient of the input less the noise's share, per channel; the ratio is
    scaled by :data:`WIENER_NSR_SCALE`. (A flat P(w) = variance amplified noise badly.)
    Boundaries: the FFT works on the 2H x 2W mirror extension (periodic and continuous),
    so it sees no edge jumps and ringing stays small.
    Raises InvalidParameterError without a kernel.
    """
    k = check_kernel(kernel, method="wiener")
    noise = max(_sigma(sigma, "wiener"), WIENER_MIN_SIGMA) / 255.0
    x = np.asarray(image, dtype=np.float64)
    h, w, c = x.shape
    ext, otf = _mirror_extend(x, k)
    eh, ew = ext.shape[:2]
    fy = np.fft.fftfreq(eh)[:, None]
    fx = np.fft.rfftfreq(ew)[None, :]
    d2 = 4.0 * np.sin(np.pi * fy) ** 2 + 4.0 * np.sin(np.pi * fx) ** 2
    out = np.empty_like(x)
    for ch in range(c):
        plane = x[:, :, ch]
        g2 = float(np.mean(np.diff(plane, axis=1) ** 2)) if w > 1 else 0.0
        g2 += float(np.mean(np.diff(plane, axis=0) ** 2)) if h > 1 else 0.0
        g2 = max(g2 - 4.0 * noise**2, 1e-5)  # a difference of i.i.d. noise has variance 2 N
        nsr = WIENER_NSR_SCALE * noise**2 * d2 / g2
        spec = np.fft.rfft2(ext[:, :, ch]) * np.conj(otf) / (np.abs(otf) ** 2 + nsr)
        out[:, :, ch] = np.fft.irfft2(spec, s=(eh, ew))[:h, :w]
    return _out(out, image)


@register_method(
    "richardson_lucy",
    task="deblur",
    description="Richardson-Lucy deconvolution with the given kernel (FFT, mirrored boundaries)",
    needs_kernel=True,
    halo=-1,
    citation=(
        "Richardson, JOSA 1972; Lucy, 'An iterative technique for the rectification of "
        "observed distributions', AJ 1974"
    ),
)
def richardson_lucy(
    image: np.ndarray, *, kernel: np.ndarray | None = None, iterations: int = 30
) -> np.ndarray:
    """Richardson-Lucy deconvolution ``u <- u * K^T (y / (K u))``, started from ``u = y``.

    image: blurred HWC float32 [0, 1]; kernel: 2-D blur kernel (normalised to sum 1, origin
    (kh//2, kw//2) as in :func:`restora.degrade.blur`); iterations: >= 1 (more = sharper
    and noisier). Convolutions are FFTs on the 2H x 2W mirror extension (reflective
    boundaries: no dark borders, no wrap-around). Values are kept >= 1e-6 (RL needs
    positive data). Raises InvalidParameterError without a kernel or with a bad
    iteration count.
    """
    k = check_kernel(kernel, method="richardson_lucy")
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, (int, np.integer))
        or iterations < 1
    ):
        raise InvalidParameterError(
            f"method 'richardson_lucy': iterations must be an integer >= 1; got {iterations!r}"
        )
    import scipy.fft

    x = np.clip(np.asarray(image, dtype=np.float32), 1e-6, None)
    h, w = x.shape[:2]
    y, otf = _mirror_extend(x, k)
    otf = otf[:, :, None].astype(np.complex64)
    otf_adj = np.conj(otf)
    shape = y.shape[:2]

    def conv(a: np.ndarray, spectrum: np.ndarray) -> np.ndarray:  # float32 FFTs
        return scipy.fft.irfft2(scipy.fft.rfft2(a, axes=(0, 1)) * spectrum, s=shape, axes=(0, 1))

    u = y.copy()
    for _ in range(int(iterations)):
        ratio = y / np.maximum(conv(u, otf), 1e-12)
        u = u * conv(ratio, otf_adj)
    return _out(u[:h, :w], image)
