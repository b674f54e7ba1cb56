"""Diffusion priors and posterior samplers in the EDM (variance-exploding) formulation.

A diffusion model here *is* a denoiser ``D(x; sigma)`` valid for every noise level
(Karras, Aittala, Aila, Laine, "Elucidating the Design Space of Diffusion-Based Generative
Models", NeurIPS 2022): ``x_t = x_0 + sigma_t n``. The samplers take a ``denoise(x, sigma)``
callable on (N, C, H, W) float32 tensors, sigma in [0, 1] units (8-bit sigma / 255),
returning the clean-image estimate (:data:`restora.models.inference.Denoise`; a network
such as :class:`~restora.archs.edm.EDMPrecond` through
:meth:`~restora.models.inference.InferenceRunner.as_denoiser`);
:func:`gaussian_prior_denoiser` is the exact denoiser of a Gaussian data distribution (for
tests and checks).

Samplers:

* :func:`sample_unconditional`: EDM Heun, Algorithm 1 of Karras et al. (deterministic).
* :func:`diffpir`: DiffPIR (Zhu, Zhang, Liang, Cao, Wen, Timofte, Van Gool, "Denoising
  Diffusion Models for Plug-and-Play Image Restoration", CVPRW 2023), HQS with the
  exact data steps of :mod:`restora.degrade.data_steps`.
* :func:`dps`: Diffusion Posterior Sampling (Chung, Kim, Mccann, Klasky, Ye, ICLR 2023),
  gradient of the measurement residual through the denoiser (torch autograd), with the
  operator's numpy ``A`` / ``A_adjoint``.

Public functions take and return HWC float32 arrays in [0, 1]; torch is used inside. The
registered ``diffpir`` and ``dps`` methods (:mod:`restora.methods.diffusion`) run them with
restora's shipped prior.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from restora.degrade.data_steps import make_data_step
from restora.degrade.operators import LinearOperator
from restora.errors import InvalidParameterError, ShapeError
from restora.io.bridge import from_tensor, to_tensor
from restora.models.inference import Denoise
from restora.options import check_sigma

if TYPE_CHECKING:
    import torch

#: Default EDM schedule ends, [0, 1] units (Karras et al.: 0.002 and 80 for [-1, 1] data).
SIGMA_MIN = 0.002 / 2
SIGMA_MAX = 80.0 / 2
#: Lowest measurement noise used in the data weights, [0, 1] units (DiffPIR: 0.001).
MIN_NOISE = 0.001

DIFFPIR_CITATION = "Zhu et al., 'Denoising Diffusion Models for Plug-and-Play Image Restoration', CVPRW 2023"
DPS_CITATION = "Chung et al., 'Diffusion Posterior Sampling for General Noisy Inverse Problems', ICLR 2023"
EDM_CITATION = "Karras et al., 'Elucidating the Design Space of Diffusion-Based Generative Models', NeurIPS 2022"

#: DiffPIR (lam, zeta) per task, converted from the reference code (yuanzhi-zhu/DiffPIR):
#: its ``lambda_`` weighs a [0, 1]-unit noise against [-1, 1]-unit diffusion levels, so
#: ``lam = lambda_ / 4`` here. Deblur: lambda_ 7, zeta 0.3; inpainting: 1, 1.0; SR: the
#: code sweeps lambda_ 2..12 with zeta 0.25 (we take 6).
DIFFPIR_DEFAULTS: dict[str, tuple[float, float]] = {
    "deblur": (7.0 / 4, 0.3),
    "inpaint": (1.0 / 4, 1.0),
    "upscale": (6.0 / 4, 0.25),
}


# --- denoisers ------------------------------------------------------------------------------


def gaussian_prior_denoiser(mean: float, std: float) -> Denoise:
    """Exact denoiser of data ``~ N(mean, std^2)`` i.i.d. per pixel: ``mean + std^2 / (std^2 +
    sigma^2) (x - mean)`` (the posterior mean ``E[x_0 | x_0 + sigma n = x]``). Differentiable."""
    m, s2 = float(mean), float(std) ** 2

    def denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
        return m + s2 / (s2 + float(sigma) ** 2) * (x - m)

    return denoise


# --- schedule and checks --------------------------------------------------------------------


def _as_denoise(denoise: object, method: str) -> Denoise:
    if not callable(denoise):
        raise InvalidParameterError(
            f"{method}: denoise must be a callable denoise(x, sigma) on NCHW tensors (sigma "
            f"in [0, 1] units), e.g. InferenceRunner(model).as_denoiser(); got {denoise!r}."
        )
    return denoise  # type: ignore[return-value]


def _check_steps(steps: object, method: str) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise InvalidParameterError(
            f"{method}: steps must be an integer >= 1; got {steps!r}."
        )
    return int(steps)


def _check_seed(seed: object, method: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidParameterError(
            f"{method}: seed must be an integer >= 0; got {seed!r}."
        )
    return int(seed)


def edm_sigmas(
    steps: int,
    sigma_min: float = SIGMA_MIN,
    sigma_max: float = SIGMA_MAX,
    rho: float = 7.0,
) -> np.ndarray:
    """Karras et al. (2022) Eq. 5 noise levels, ``steps`` values falling from ``sigma_max`` to
    ``sigma_min`` ([0, 1] units; float64, no trailing zero). ``steps=1`` gives ``[sigma_max]``."""
    n = _check_steps(steps, "edm_sigmas")
    if not 0 < sigma_min < sigma_max or not math.isfinite(sigma_max):
        raise InvalidParameterError(
            f"edm_sigmas: need 0 < sigma_min < sigma_max; got sigma_min={sigma_min!r}, "
            f"sigma_max={sigma_max!r}."
        )
    if rho <= 0:
        raise InvalidParameterError(f"edm_sigmas: rho must be > 0; got {rho!r}.")
    if n == 1:
        return np.array([float(sigma_max)])
    i = np.arange(n) / (n - 1)
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return (a + i * (b - a)) ** rho


def _randn(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    import torch

    g = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(shape, generator=g, dtype=torch.float32)


def _to_hwc(x: torch.Tensor) -> np.ndarray:
    """CHW tensor -> HWC float32 clipped to [0, 1]."""
    return np.clip(from_tensor(x), 0.0, 1.0)


# --- unconditional sampling -----------------------------------------------------------------


def sample_unconditional(
    denoise: Any,
    shape: tuple[int, int, int],
    *,
    steps: int = 18,
    seed: int = 0,
    sigma_min: float = SIGMA_MIN,
    sigma_max: float = SIGMA_MAX,
    rho: float = 7.0,
) -> np.ndarray:
    """Draw one image from the prior with the EDM Heun sampler (Karras et al. 2022, Alg. 1).

    denoise: a :data:`Denoise`; shape: (H, W, C).
    Deterministic given ``seed`` (the start ``0.5 + sigma_max n``). ``2 steps - 1``
    denoiser calls. Returns HWC float32 clipped to [0, 1].
    """
    import torch

    den = _as_denoise(denoise, "sample_unconditional")
    n = _check_steps(steps, "sample_unconditional")
    s = _check_seed(seed, "sample_unconditional")
    if len(shape) != 3 or min(shape) < 1:
        raise ShapeError(
            f"sample_unconditional: shape must be (H, W, C); got {shape!r}."
        )
    h, w, c = (int(v) for v in shape)
    sig = [*edm_sigmas(n, sigma_min, sigma_max, rho).tolist(), 0.0]
    x = 0.5 + sig[0] * _randn((1, c, h, w), s)
    with torch.no_grad():
        for cur, nxt in itertools.pairwise(sig):
            d = (x - den(x, cur)) / cur
            x_next = x + (nxt - cur) * d
            if nxt > 0:
                d2 = (x_next - den(x_next, nxt)) / nxt
                x_next = x + (nxt - cur) * 0.5 * (d + d2)
            x = x_next
    return _to_hwc(x[0])


# --- posterior sampling ---------------------------------------------------------------------


def _prepare(
    y: np.ndarray,
    operator: LinearOperator,
    in_shape: tuple[int, ...] | None,
    method: str,
) -> tuple[np.ndarray, tuple[int, ...], np.ndarray]:
    """float64 HWC y, the estimate's shape and a start image ``A^T y / A^T 1`` (0.5 where unseen)."""
    y64 = np.asarray(y, dtype=np.float64)
    if y64.ndim == 2:
        y64 = y64[:, :, None]
    if y64.ndim != 3:
        raise ShapeError(
            f"{method}: y must be an HW or HWC array; got shape {np.shape(y)}."
        )
    shape = (
        tuple(in_shape)
        if in_shape is not None
        else tuple(operator.input_shape(y64.shape))
    )
    if len(shape) == 2:
        shape = shape + (y64.shape[2],)
    if tuple(operator.output_shape(shape)) != y64.shape:
        raise ShapeError(
            f"{method}: y has shape {y64.shape} but {type(operator).__name__} maps an image of "
            f"shape {shape} to {tuple(operator.output_shape(shape))}."
        )
    weight = operator.A_adjoint(np.ones(y64.shape), in_shape=shape)
    aty = operator.A_adjoint(y64, in_shape=shape)
    start = np.where(weight > 1e-8, aty / np.maximum(weight, 1e-8), 0.5)
    return y64, shape, start


@dataclass
class _SamplerStart:
    """What every posterior sampler sets up: seeds, the wrapped denoiser, float64 HWC ``y``,
    the estimate's shape, the noise levels (descending, [0, 1] units), the seeded noise
    source and the start ``x_T`` (NCHW, one row per seed)."""

    seeds: list[int]
    denoise: Denoise
    y64: np.ndarray
    shape: tuple[int, ...]
    sigmas: list[float]
    noise: Callable[[], torch.Tensor]
    x: torch.Tensor


def _start(
    y: np.ndarray,
    operator: LinearOperator,
    denoise: Any,
    steps: int,
    *,
    seed: object,
    samples: object,
    in_shape: tuple[int, ...] | None,
    schedule: tuple[float, float, float],
    method: str,
) -> _SamplerStart:
    """Check and set up a sampler run: ``x_T = A^T y / A^T 1 + sigma_max n``."""
    seeds = _seeds(seed, samples, method)
    den = _as_denoise(denoise, method)
    y64, shape, start = _prepare(y, operator, in_shape, method)
    sigmas = edm_sigmas(steps, *schedule).tolist()
    noise = _noise_source(seeds, shape)
    return _SamplerStart(seeds, den, y64, shape, sigmas, noise, _nchw(start) + sigmas[0] * noise())


def _seeds(seed: object, samples: object, method: str) -> list[int]:
    s = _check_seed(seed, method)
    if samples is None:
        return [s]
    if not _is_positive_int(samples):
        raise InvalidParameterError(
            f"{method}: samples must be an integer >= 1; got {samples!r}."
        )
    return [s + i for i in range(int(samples))]  # type: ignore[call-overload]


def _is_positive_int(value: object) -> bool:
    """An int (not bool) >= 1."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def _nchw(a: np.ndarray) -> torch.Tensor:
    """HWC array -> 1CHW float32 tensor."""
    return to_tensor(a)


def _hwc64(t: torch.Tensor) -> np.ndarray:
    """CHW tensor -> HWC float64 array."""
    return from_tensor(t).astype(np.float64)


def _noise_source(seeds: list[int], shape: tuple[int, ...]) -> Callable[[], torch.Tensor]:
    """A function drawing one (len(seeds), C, H, W) standard normal batch per call, sample k
    from its own generator seeded ``seeds[k]`` (so sample k equals a single draw with it)."""
    import torch

    h, w, c = shape
    gens = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
    return lambda: torch.cat([torch.randn((1, c, h, w), generator=g) for g in gens])


def _stack(outs: list[np.ndarray], samples: int | None) -> np.ndarray:
    return outs[0] if samples is None else np.stack(outs)


def diffpir(
    y: np.ndarray,
    operator: LinearOperator,
    denoise: Any,
    *,
    sigma: float,
    steps: int = 20,
    lam: float = DIFFPIR_DEFAULTS["deblur"][0],
    zeta: float = DIFFPIR_DEFAULTS["deblur"][1],
    seed: int = 0,
    samples: int | None = None,
    sigma_min: float = SIGMA_MIN,
    sigma_max: float = SIGMA_MAX,
    rho: float = 7.0,
    in_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """DiffPIR posterior sampling for ``y = A x + n`` (Zhu et al., CVPRW 2023, Alg. 1, VE form).

    y: observation, HW or HWC float [0, 1]; operator: a
    :class:`~restora.degrade.operators.LinearOperator` ``A``; denoise: a :data:`Denoise`; sigma: noise std of ``y``, 8-bit units (floored at 0.255 in the weights, as
    DiffPIR's 0.001); steps: number of denoiser calls (levels :func:`edm_sigmas`, DDIM-like
    skipping); lam: data weight, ``rho_t = lam sigma_n^2 / sigma_t^2`` with both in [0, 1]
    units (DiffPIR's ``lambda_`` is ``4 lam``); zeta in [0, 1]: share of fresh noise per
    step (0 = deterministic DDIM-like, 1 = fully stochastic).

    Each step: ``x0 = D(x_t; sigma_t)``; ``x0_hat = argmin ||y - A x||^2 + rho_t ||x -
    x0||^2`` (exact, :func:`~restora.degrade.data_steps.make_data_step`); ``x_next = x0_hat
    + sigma_next (sqrt(1 - zeta) (x_t - x0_hat) / sigma_t + sqrt(zeta) n)``. Starts from
    ``A^T y / A^T 1 + sigma_max n``; returns the last ``x0_hat``.

    samples: None returns one image (H, W, C) float32 in [0, 1] drawn with ``seed``; an
    integer k returns a (k, H, W, C) stack drawn with seeds ``seed .. seed + k - 1`` (sample
    i equals the single draw with seed ``seed + i``). in_shape: shape of ``x`` when the
    operator has several (default ``operator.input_shape(y.shape)``).
    """
    import torch

    n = _check_steps(steps, "diffpir")
    sn = max(check_sigma(sigma, method="diffpir") / 255.0, MIN_NOISE)
    if not (isinstance(lam, (int, float)) and math.isfinite(lam) and lam > 0):
        raise InvalidParameterError(
            f"diffpir: lam must be a finite number > 0; got {lam!r}."
        )
    if not (isinstance(zeta, (int, float)) and 0.0 <= zeta <= 1.0):
        raise InvalidParameterError(
            f"diffpir: zeta must be a number in [0, 1]; got {zeta!r}."
        )
    run = _start(y, operator, denoise, n, seed=seed, samples=samples, in_shape=in_shape,
                 schedule=(sigma_min, sigma_max, rho), method="diffpir")
    seeds, den, sig, noise, x = run.seeds, run.denoise, run.sigmas, run.noise, run.x
    step = make_data_step(operator, run.y64, in_shape=run.shape)
    x0_hat = x
    for i, cur in enumerate(sig):
        with torch.no_grad():
            x0 = den(x, cur)
        mu = lam * sn**2 / cur**2
        x0_hat = torch.cat([_nchw(step(_hwc64(x0[k]), mu)) for k in range(len(seeds))])
        if i + 1 < n:
            nxt = sig[i + 1]
            eps = (x - x0_hat) / cur
            x = x0_hat + nxt * (math.sqrt(1 - zeta) * eps + math.sqrt(zeta) * noise())
    return _stack([_to_hwc(x0_hat[k]) for k in range(len(seeds))], samples)


def dps(
    y: np.ndarray,
    operator: LinearOperator,
    denoise: Any,
    *,
    steps: int = 100,
    step_size: float = 1.0,
    seed: int = 0,
    samples: int | None = None,
    sigma_min: float = SIGMA_MIN,
    sigma_max: float = SIGMA_MAX,
    rho: float = 7.0,
    in_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Diffusion Posterior Sampling (Chung et al., ICLR 2023, Alg. 1) in the VE/EDM form.

    Each step: ``x0 = D(x_t; sigma_t)``; an ancestral (Euler, eta = 1) step to ``sigma_next``,
    ``x' = x0 + sigma_down (x_t - x0) / sigma_t + sigma_up n``; then the measurement
    gradient ``x_next = x' - step_size grad_{x_t} ||y - A x0||`` (the official code's
    un-squared norm, i.e. the paper's ``zeta_t = zeta' / ||y - A x0||``). The gradient is
    ``J_D^T A^T (A x0 - y) / ||y - A x0||``: ``A`` and ``A_adjoint`` of the numpy operator,
    the vector-Jacobian product by torch autograd, so any LinearOperator works.

    denoise: a differentiable :data:`Denoise` (e.g. ``runner.as_denoiser(grad=True)``);
    steps: denoiser calls (each also a backward pass); step_size: ``zeta'`` (paper: ~1 for
    [-1, 1] images with 1000 steps; as in DPS it is not invariant to the image size: the
    gradient is about 1/sqrt(pixels) per pixel. With restora's prior, 100 steps and 256x256
    RGB images, 15 was best of 5 / 15 / 40 on a Val20 crop; the default 1 barely moves it). Returns the last ``x0``,
    HWC float32 [0, 1]; ``samples`` as in :func:`diffpir`.
    """
    import torch

    n = _check_steps(steps, "dps")
    if not (
        isinstance(step_size, (int, float))
        and math.isfinite(step_size)
        and step_size >= 0
    ):
        raise InvalidParameterError(
            f"dps: step_size must be a finite number >= 0; got {step_size!r}."
        )
    run = _start(y, operator, denoise, n, seed=seed, samples=samples, in_shape=in_shape,
                 schedule=(sigma_min, sigma_max, rho), method="dps")
    seeds, den, noise, x = run.seeds, run.denoise, run.noise, run.x
    y64, shape, sig = run.y64, run.shape, [*run.sigmas, 0.0]
    x0 = x
    for cur, nxt in itertools.pairwise(sig):
        xg = x.detach().requires_grad_(True)
        x0 = den(xg, cur)
        if x0.grad_fn is None:
            raise InvalidParameterError(
                "dps: the denoiser's output has no autograd graph; pass a differentiable "
                "denoise (InferenceRunner(model).as_denoiser(grad=True))."
            )
        vs, norms = [], []
        for k in range(len(seeds)):
            r = operator.A(_hwc64(x0[k])) - y64
            norm = float(np.linalg.norm(r))
            norms.append(norm)
            v = operator.A_adjoint(r, in_shape=shape) / max(norm, 1e-12)
            vs.append(_nchw(v))
        (grad,) = torch.autograd.grad(x0, xg, grad_outputs=torch.cat(vs))
        x0 = x0.detach()
        up = math.sqrt(max(nxt**2 * (cur**2 - nxt**2) / cur**2, 0.0))
        down = math.sqrt(max(nxt**2 - up**2, 0.0))
        x = x0 + down * (x - x0) / cur
        if up > 0:
            x = x + up * noise()
        x = x - step_size * grad
    return _stack([_to_hwc(x0[k]) for k in range(len(seeds))], samples)


__all__ = [
    "DIFFPIR_CITATION",
    "DIFFPIR_DEFAULTS",
    "DPS_CITATION",
    "EDM_CITATION",
    "Denoise",
    "diffpir",
    "dps",
    "edm_sigmas",
    "gaussian_prior_denoiser",
    "sample_unconditional",
]
