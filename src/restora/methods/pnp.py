"""Plug-and-play restoration: half-quadratic splitting with any denoiser as the prior.

Zhang, Li, Zuo, Zhang, Van Gool, Timofte, "Plug-and-Play Image Restoration with Deep
Denoiser Prior" (DPIR), TPAMI 2021. Each iteration solves the data step
``x = argmin ||y - A x||^2 + mu_k ||x - z||^2`` exactly (:mod:`restora.degrade.data_steps`)
and then denoises ``z = D(x, sigma_k)``. As in KAIR ``utils_pnp.get_rho_sigma``: the denoiser
levels ``sigma_k`` fall log-spaced from 49 to the noise level (8-bit units) and
``mu_k = lambda * sigma^2 / sigma_k^2`` with ``lambda = 0.23``.

A denoiser is a registered method name ("tv", "bm3d", "wavelet", "nlm", ...), a loaded
:class:`~restora.models.descriptor.ModelDescriptor` that takes a noise level (FFDNet,
DRUNet), or any callable ``f(image HWC float32 [0,1], sigma 8-bit) -> image``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from restora.errors import InvalidParameterError, ShapeError
from restora.methods.registry import check_sigma, register_method

Denoiser = Callable[[np.ndarray, float], np.ndarray]

#: Lowest denoiser level and noise level used in the schedule (KAIR: 0.255 / 255).
MIN_SIGMA = 0.255
DPIR_CITATION = (
    "Zhang et al., 'Plug-and-Play Image Restoration with Deep Denoiser Prior', TPAMI 2021"
)


def default_denoiser() -> str:
    """``"tv"``: fast on any photo. ``"bm3d"`` gains ~3 dB in PnP deblurring (Set3C, Levin
    kernel 1, sigma 2.55: 32.89 vs 29.88 dB) but takes ~50 s per 256x256 image on a CPU
    core; pass it, or a learned noise-level model, explicitly."""
    return "tv"


def as_denoiser(denoiser: object) -> Denoiser:
    """Turn a method name, a noise-level ModelDescriptor or a callable into ``f(x, sigma)``.

    A gray model (1 channel) on RGB runs per channel; an RGB model on gray runs on the
    gray image repeated three times and returns the channel mean.
    Raises InvalidParameterError for anything else (a model without a noise-level input,
    a method name of a non-denoising or unknown method).
    """
    from restora.models.descriptor import ModelDescriptor

    if isinstance(denoiser, str):
        from restora.methods.registry import get_method

        info = get_method(denoiser)
        if info.task != "denoise" or "sigma" not in info.options:
            raise InvalidParameterError(
                f"pnp: denoiser {denoiser!r} is a {info.task!r} method without a sigma option; "
                "use a denoiser that takes sigma, e.g. 'tv', 'bm3d', 'wavelet' or 'nlm'."
            )
        return lambda x, s: info(x, sigma=s)
    if isinstance(denoiser, ModelDescriptor):
        desc = denoiser
        if not desc.needs_sigma or desc.scale != 1:
            raise InvalidParameterError(
                f"pnp: model {desc.arch} from {desc.source.name} has no noise-level input "
                "(or changes the size); plug-and-play needs a denoiser that takes sigma, "
                "e.g. FFDNet or DRUNet weights."
            )

        def run(x: np.ndarray, s: float) -> np.ndarray:
            c = x.shape[2]
            if c == desc.in_channels:
                return desc(x, sigma=s)
            if desc.in_channels == 1:
                return np.concatenate([desc(x[:, :, i : i + 1], sigma=s) for i in range(c)], 2)
            if c == 1 and desc.in_channels == 3:
                return desc(np.repeat(x, 3, axis=2), sigma=s).mean(axis=2, keepdims=True)
            raise ShapeError(
                f"pnp: model {desc.arch} takes {desc.in_channels} channels; image has {c}."
            )

        return run
    if callable(denoiser):
        return denoiser  # type: ignore[return-value]
    raise InvalidParameterError(
        "pnp: denoiser must be a registered method name (e.g. 'tv'), a loaded noise-level "
        f"model (restora.models.load_model('FFDNet_color.mat')) or a callable; got {denoiser!r}."
    )


def dpir_schedule(
    sigma: float,
    iterations: int,
    sigma_range: tuple[float, float] | None = None,
    lambda_: float = 0.23,
) -> tuple[np.ndarray, np.ndarray]:
    """(denoiser levels sigma_k in 8-bit units, data weights mu_k), as KAIR ``get_rho_sigma``.

    ``sigma_k = logspace(sigma_range[0] -> sigma_range[1])`` (default ``(49, sigma)``, both
    floored at :data:`MIN_SIGMA`); ``mu_k = lambda_ * max(sigma, MIN_SIGMA)^2 / sigma_k^2``.
    """
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, (int, np.integer))
        or iterations < 1
    ):
        raise InvalidParameterError(f"pnp: iterations must be an integer >= 1; got {iterations!r}")
    s = max(float(sigma), MIN_SIGMA)
    start, end = (49.0, s) if sigma_range is None else sigma_range
    start, end = max(float(start), MIN_SIGMA), max(float(end), MIN_SIGMA)
    levels = np.logspace(np.log10(start), np.log10(end), int(iterations))
    return levels, float(lambda_) * s**2 / levels**2


def _geometric(x: np.ndarray, mode: int, inverse: bool = False) -> np.ndarray:
    """One of the 8 flips/rotations (KAIR ``augment_img`` modes), or its inverse."""
    k, flip = mode % 4, mode >= 4
    if inverse:
        x = np.rot90(x, -k, axes=(0, 1))
        return x[::-1] if flip else x
    x = x[::-1] if flip else x
    return np.rot90(x, k, axes=(0, 1))


def _check_sigma(sigma: object) -> float:
    return check_sigma(
        sigma, method="pnp", required=" (the noise std of the observation, e.g. 2.55)."
    )


def pnp_hqs(
    y: np.ndarray,
    operator: Any,
    denoiser: object,
    *,
    sigma: float,
    iterations: int = 8,
    sigma_range: tuple[float, float] | None = None,
    lambda_: float = 0.23,
    ensemble: bool = False,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """DPIR half-quadratic splitting for ``y = A x + n``; returns ``x`` (HWC float32 [0, 1]).

    y: observation (HWC or HW float); operator: a
    :class:`~restora.degrade.operators.LinearOperator`; denoiser: see :func:`as_denoiser`;
    sigma: noise std of ``y`` in 8-bit units; sigma_range: first and last denoiser level
    (default ``(49, sigma)``); ensemble: denoise each iteration in one of the 8 flips and
    rotations in turn (DPIR's x8 mode); init: starting ``x`` (default ``A^T y`` normalised
    by ``A^T 1``, which is ``y`` for blurs).
    """
    from restora.degrade.data_steps import make_data_step

    s = _check_sigma(sigma)
    levels, mus = dpir_schedule(s, iterations, sigma_range, lambda_)
    denoise = as_denoiser(denoiser)
    y64 = np.asarray(y, dtype=np.float64)
    if y64.ndim == 2:
        y64 = y64[:, :, None]
    if init is None:
        shape = operator.input_shape(y64.shape)
        weight = operator.A_adjoint(np.ones(y64.shape), in_shape=shape)
        x = operator.A_adjoint(y64, in_shape=shape) / np.maximum(weight, 1e-8)
    else:
        x = np.asarray(init, dtype=np.float64)
        x = x[:, :, None] if x.ndim == 2 else x
    step = make_data_step(operator, y64, in_shape=x.shape)
    for k, (level, mu) in enumerate(zip(levels, mus, strict=True)):
        x = step(x, mu)
        z = np.clip(x, 0.0, 1.0).astype(np.float32)
        if ensemble:
            d = denoise(np.ascontiguousarray(_geometric(z, k % 8)), float(level))
            x = _geometric(np.asarray(d, dtype=np.float64), k % 8, inverse=True)
        else:
            x = np.asarray(denoise(z, float(level)), dtype=np.float64)
        x = x.reshape(z.shape)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def _kernel(kernel: object, name: str) -> np.ndarray:
    from restora.methods.classical import _kernel as check

    return check(kernel, name)


def pnp_deblur(
    image: np.ndarray,
    *,
    kernel: np.ndarray | None = None,
    sigma: float | None = None,
    denoiser: object | None = None,
    iterations: int = 8,
    ensemble: bool = False,
) -> np.ndarray:
    """Non-blind deblurring (circular-boundary model, as DPIR) with a plug-in denoiser.

    image: blurred HWC float32 [0, 1]; kernel: 2-D blur kernel (normalised to sum 1,
    origin (kh//2, kw//2)); sigma: noise std, 8-bit units; denoiser: default
    :func:`default_denoiser`. Returns HWC float32 [0, 1].
    """
    from restora.degrade.operators import BlurOperator

    k = _kernel(kernel, "pnp")
    s = _check_sigma(sigma)
    den = default_denoiser() if denoiser is None else denoiser
    return pnp_hqs(image, BlurOperator(k), den, sigma=s, iterations=iterations, ensemble=ensemble)


@register_method(
    "pnp",
    task="deblur",
    description="Plug-and-play HQS deblurring (DPIR schedule) with BM3D (or TV) as the prior",
    needs_sigma=True,
    needs_kernel=True,
    halo=-1,
    citation=DPIR_CITATION,
)
def pnp(
    image: np.ndarray, *, kernel: np.ndarray | None = None, sigma: float | None = None
) -> np.ndarray:
    """Registered PnP deblurring: :func:`pnp_deblur` with the default classical denoiser."""
    return pnp_deblur(image, kernel=kernel, sigma=sigma)


def pnp_super_resolve(
    image: np.ndarray,
    *,
    scale: int,
    kernel: np.ndarray | None = None,
    sigma: float = 0.0,
    denoiser: object | None = None,
    iterations: int = 24,
) -> np.ndarray:
    """Super-resolution of ``y = (k * x)[::s, ::s] + n`` (circular blur, then decimation).

    image: low-resolution HWC float32 [0, 1]; scale: integer s >= 2; kernel: the blur
    before decimation, origin (kh//2, kw//2) (default: a Gaussian of std ``0.5 * scale``);
    sigma: noise, 8-bit units. DPIR SR schedule:
    levels from 49 to ``max(scale, sigma)`` over 24 iterations; the data step is USRNet's
    closed form. Starts from a pixel-replicated upsampling. Returns (sH, sW, C).
    """
    from restora.degrade.kernels import gaussian_kernel
    from restora.degrade.operators import (
        BlurOperator,
        ComposeOperator,
        DownsampleOperator,
    )

    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise InvalidParameterError(
            f"pnp_super_resolve: scale must be an integer >= 1; got {scale!r}"
        )
    s = _check_sigma(sigma)
    k = gaussian_kernel(0.5 * scale) if kernel is None else _kernel(kernel, "pnp_super_resolve")
    op = ComposeOperator(BlurOperator(k), DownsampleOperator(int(scale)))
    y = np.asarray(image, dtype=np.float64)
    init = np.repeat(np.repeat(y, scale, axis=0), scale, axis=1)
    den = default_denoiser() if denoiser is None else denoiser
    return pnp_hqs(
        y,
        op,
        den,
        sigma=s,
        iterations=iterations,
        sigma_range=(49.0, max(float(scale), s)),
        init=init,
    )


def _fill(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalised Gaussian interpolation of the kept pixels (initial guess for inpainting)."""
    from scipy.ndimage import gaussian_filter

    m = np.broadcast_to(mask, y.shape).astype(np.float64)
    num = gaussian_filter(y * m, sigma=(2, 2, 0))
    den = gaussian_filter(m, sigma=(2, 2, 0))
    mean = float((y * m).sum() / max(m.sum(), 1.0))
    guess = np.where(den > 1e-3, num / np.maximum(den, 1e-3), mean)
    return np.where(m > 0, y, guess)


def pnp_inpaint(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    denoiser: object | None = None,
    sigma: float = 0.0,
    iterations: int = 24,
) -> np.ndarray:
    """Fill the pixels where ``mask`` is 0 (noise-free or noisy observed pixels).

    image: HWC float32 [0, 1] (values under mask 0 are ignored); mask: HW or HWC, 1 =
    observed, 0 = missing; sigma: noise of the observed pixels, 8-bit units. Starts from
    a normalised Gaussian interpolation; levels fall from 49 to ``max(sigma, 1)``.
    Raises ShapeError when the mask does not match the image.
    """
    from restora.degrade.operators import MaskOperator

    y = np.asarray(image, dtype=np.float64)
    m = np.asarray(mask, dtype=np.float64)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    if y.ndim != 3 or m.shape[:2] != y.shape[:2] or (m.ndim == 3 and m.shape != y.shape):
        raise ShapeError(
            f"pnp_inpaint: mask of shape {np.shape(mask)} does not match image of shape "
            f"{np.shape(image)}; give an HW or HWC mask (1 = observed, 0 = missing) of the "
            "image's height and width."
        )
    mm = m[:, :, None] if m.ndim == 2 else m
    s = _check_sigma(sigma)
    den = default_denoiser() if denoiser is None else denoiser
    return pnp_hqs(
        y * mm,
        MaskOperator(m),
        den,
        sigma=s,
        iterations=iterations,
        sigma_range=(49.0, max(s, 1.0)),
        init=_fill(y, mm),
    )


def bilinear_demosaic(mosaic: np.ndarray, *, pattern: str = "RGGB") -> np.ndarray:
    """Bilinear demosaicking of an H x W (x 1) Bayer mosaic -> H x W x 3 float (mirror borders)."""
    from scipy.ndimage import convolve

    from restora.degrade.data_steps import MosaicOperator

    op = MosaicOperator(pattern)
    y = np.asarray(mosaic, dtype=np.float64)
    y = y[:, :, None] if y.ndim == 2 else y
    sparse = op.A_adjoint(y)
    k_g = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]]) / 4.0
    k_rb = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4.0
    out = np.empty(sparse.shape)
    for c, k in enumerate((k_rb, k_g, k_rb)):
        out[:, :, c] = convolve(sparse[:, :, c], k, mode="mirror")
    return out


def pnp_demosaic(
    mosaic: np.ndarray,
    *,
    denoiser: object | None = None,
    pattern: str = "RGGB",
    sigma: float = 0.0,
    iterations: int = 24,
) -> np.ndarray:
    """Bayer demosaicking ``H x W (x 1) -> H x W x 3`` with a plug-in RGB denoiser.

    mosaic: float [0, 1]; pattern: "RGGB", "BGGR", "GRBG" or "GBRG"; starts from
    :func:`bilinear_demosaic`; levels fall from 49 to ``max(sigma, 1)``.
    Raises ShapeError for a multi-channel input.
    """
    from restora.degrade.data_steps import MosaicOperator

    y = np.asarray(mosaic, dtype=np.float64)
    y = y[:, :, None] if y.ndim == 2 else y
    if y.ndim != 3 or y.shape[2] != 1:
        raise ShapeError(
            f"pnp_demosaic: expected a single-channel H x W mosaic, got shape {np.shape(mosaic)}."
        )
    s = _check_sigma(sigma)
    den = default_denoiser() if denoiser is None else denoiser
    return pnp_hqs(
        y,
        MosaicOperator(pattern),
        den,
        sigma=s,
        iterations=iterations,
        sigma_range=(49.0, max(s, 1.0)),
        init=bilinear_demosaic(y, pattern=pattern),
    )
