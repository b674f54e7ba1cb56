"""Plug-and-play restoration: half-quadratic splitting with any denoiser as the prior.

Zhang, Li, Zuo, Zhang, Van Gool, Timofte, "Plug-and-Play Image Restoration with Deep
Denoiser Prior" (DPIR), TPAMI 2021. Each iteration solves the data step
``x = argmin ||y - A x||^2 + mu_k ||x - z||^2`` exactly (:mod:`restora.degrade.data_steps`)
and then denoises ``z = D(x, sigma_k)``. As in KAIR ``utils_pnp.get_rho_sigma``: the denoiser
levels ``sigma_k`` fall log-spaced from 49 to the noise level (8-bit units) and
``mu_k = lambda * sigma^2 / sigma_k^2`` with ``lambda = 0.23``.

:func:`pnp_solve` runs one task (deblur, upscale, inpaint, demosaic) with DPIR's per-task
settings (:data:`TASK_SETTINGS`); :func:`pnp_hqs` is the general solver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from restora.degrade.data_steps import make_data_step
from restora.degrade.kernels import check_kernel, gaussian_kernel
from restora.degrade.operators import (
    LinearOperator,
    MosaicOperator,
    blur_problem,
    task_operator,
)
from restora.errors import InvalidParameterError, ShapeError
from restora.io.bridge import from_tensor, to_tensor
from restora.models.inference import Denoise, augment, deaugment
from restora.options import check_sigma

#: Lowest denoiser level and noise level used in the schedule (KAIR: 0.255 / 255).
MIN_SIGMA = 0.255
DPIR_CITATION = (
    "Zhang et al., 'Plug-and-Play Image Restoration with Deep Denoiser Prior', TPAMI 2021"
)


def _check_sigma(sigma: object) -> float:
    return check_sigma(
        sigma, method="pnp", required=" (the noise std of the observation, e.g. 2.55)."
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


def pnp_hqs(
    y: np.ndarray,
    operator: LinearOperator,
    denoise: Denoise,
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
    :class:`~restora.degrade.operators.LinearOperator`; denoise: a
    :data:`~restora.models.inference.Denoise` (NCHW tensors, sigma in [0, 1] units); its
    output is clipped to [0, 1]; sigma: noise std of ``y`` in 8-bit units; sigma_range: first
    and last denoiser level (default ``(49, sigma)``); ensemble: denoise each iteration in
    one of the 8 flips and rotations in turn (DPIR's x8 mode); init: starting ``x`` (default
    ``A^T y`` normalised by ``A^T 1``, which is ``y`` for blurs).
    """
    s = _check_sigma(sigma)
    levels, mus = dpir_schedule(s, iterations, sigma_range, lambda_)
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
        z = to_tensor(np.clip(x, 0.0, 1.0).astype(np.float32))
        mode = k % 8 if ensemble else 0
        d = deaugment(denoise(augment(z, mode), float(level) / 255.0), mode)
        x = np.clip(from_tensor(d)[0], 0.0, 1.0).astype(np.float64).reshape(x.shape)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def _fill(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Normalised Gaussian interpolation of the kept pixels (initial guess for inpainting)."""
    from scipy.ndimage import gaussian_filter

    m = np.broadcast_to(mask, y.shape).astype(np.float64)
    num = gaussian_filter(y * m, sigma=(2, 2, 0))
    den = gaussian_filter(m, sigma=(2, 2, 0))
    mean = float((y * m).sum() / max(m.sum(), 1.0))
    guess = np.where(den > 1e-3, num / np.maximum(den, 1e-3), mean)
    return np.where(m > 0, y, guess)


def bilinear_demosaic(mosaic: np.ndarray, *, pattern: str = "RGGB") -> np.ndarray:
    """Bilinear demosaicking of an H x W (x 1) Bayer mosaic -> H x W x 3 float (mirror borders)."""
    from scipy.ndimage import convolve

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


@dataclass(frozen=True)
class TaskSettings:
    """DPIR's settings for one task: iterations, the last denoiser level's floor (8-bit
    units; the levels fall from 49 to ``max(sigma, floor)``; for upscaling the floor is the
    scale), and how ``x`` starts (``None``: ``A^T y / A^T 1``)."""

    iterations: int
    floor: float | None
    init: Callable[..., np.ndarray] | None = None


def _replicate(y: np.ndarray, *, scale: int, **_: object) -> np.ndarray:
    return np.repeat(np.repeat(y, scale, axis=0), scale, axis=1)


def _interpolate(y: np.ndarray, *, missing: np.ndarray, **_: object) -> np.ndarray:
    observed = ~np.asarray(missing, dtype=bool)
    return _fill(y, observed[:, :, None] if observed.ndim == 2 else observed)


def _bilinear(y: np.ndarray, *, pattern: str, **_: object) -> np.ndarray:
    return bilinear_demosaic(y, pattern=pattern)


TASK_SETTINGS: dict[str, TaskSettings] = {
    "deblur": TaskSettings(iterations=8, floor=None),
    "upscale": TaskSettings(iterations=24, floor=0.0, init=_replicate),
    "inpaint": TaskSettings(iterations=24, floor=1.0, init=_interpolate),
    "demosaic": TaskSettings(iterations=24, floor=1.0, init=_bilinear),
}


def pnp_solve(
    task: str,
    y: np.ndarray,
    denoise: Denoise,
    *,
    sigma: float = 0.0,
    kernel: np.ndarray | None = None,
    scale: int | None = None,
    missing: np.ndarray | None = None,
    pattern: str = "RGGB",
    iterations: int | None = None,
    ensemble: bool = False,
    boundary: str = "unknown",
) -> np.ndarray:
    """Plug-and-play for one task with DPIR's settings (:data:`TASK_SETTINGS`).

    y: observation, HWC float32 [0, 1] (a one-channel Bayer mosaic for ``demosaic``);
    sigma: its noise std, 8-bit units; kernel: the blur (deblur: required; upscale: default
    a Gaussian of std ``0.5 * scale``); scale: upscaling factor; missing: HW bool, True =
    pixels to fill (inpaint); pattern: Bayer cell (demosaic). boundary (deblur, upscale):
    ``"unknown"`` for photos (nothing assumed beyond the frame, see
    :func:`~restora.degrade.operators.blur_problem`) or ``"circular"`` for a periodic blur
    (the synthetic benchmark protocol, DPIR's exact FFT model). Returns HWC float32 [0, 1]
    (``scale`` times larger for upscale, 3 channels for demosaic).
    """
    if task not in TASK_SETTINGS:
        raise InvalidParameterError(
            f"pnp: task must be one of {', '.join(TASK_SETTINGS)}; got {task!r}")
    settings = TASK_SETTINGS[task]
    s = _check_sigma(sigma)
    y64 = np.asarray(y, dtype=np.float64)
    y64 = y64[:, :, None] if y64.ndim == 2 else y64
    if task == "deblur" or kernel is not None:
        kernel = check_kernel(kernel, method="pnp")
    if task == "upscale" and kernel is None:
        kernel = gaussian_kernel(0.5 * _scale(scale))
    if task == "inpaint":
        missing = _check_missing(missing, y64.shape)
        y64 = y64 * ~missing[:, :, None]
    if task == "demosaic" and y64.shape[2] != 1:
        raise ShapeError(
            f"pnp demosaic: expected a single-channel H x W mosaic, got shape {np.shape(y)}.")
    if settings.floor is None:
        levels = None
    else:
        floor = float(scale) if task == "upscale" else settings.floor
        levels = (49.0, max(s, floor))
    iterations = settings.iterations if iterations is None else iterations
    if task in ("deblur", "upscale"):
        problem = blur_problem(y64, kernel, scale=_scale(scale) if task == "upscale" else 1,
                               boundary=boundary)
        init = problem.init
        if settings.init is not None:
            init = settings.init(problem.y, scale=scale)
        x = pnp_hqs(problem.y, problem.operator, denoise, sigma=s, iterations=iterations,
                    sigma_range=levels, ensemble=ensemble, init=init)
        return np.ascontiguousarray(x[problem.crop])
    operator = task_operator(task, missing=missing, pattern=pattern)
    init = None if settings.init is None else settings.init(
        y64, scale=scale, missing=missing, pattern=pattern)
    return pnp_hqs(y64, operator, denoise, sigma=s, iterations=iterations,
                   sigma_range=levels, ensemble=ensemble, init=init)


def _scale(scale: object) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise InvalidParameterError(f"pnp upscale: scale must be an integer >= 1; got {scale!r}")
    return int(scale)


def _check_missing(missing: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if missing is None:
        raise InvalidParameterError(
            "pnp inpaint needs mask (HW, True / white = pixels to fill)")
    m = np.asarray(missing)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    if m.shape != tuple(shape[:2]):
        raise ShapeError(
            f"pnp inpaint: mask of shape {np.shape(missing)} does not match the image of shape "
            f"{tuple(shape)}; give an HW mask of the image's height and width."
        )
    return m.astype(bool)


__all__ = ["DPIR_CITATION", "MIN_SIGMA", "TASK_SETTINGS", "bilinear_demosaic", "dpir_schedule",
           "pnp_hqs", "pnp_solve"]
