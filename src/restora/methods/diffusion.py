"""Diffusion posterior sampling as registered methods: ``diffpir`` and ``dps``, for deblurring,
kernel-aware super-resolution and inpainting (the samplers are
:mod:`restora.solvers.diffusion`).

The prior is restora's shipped EDM diffusion model (``diffusion_prior``, a denoiser for every
noise level), run by the one network runner with the request's device and precision; any
other EDM prior trained by ``restora train`` can be named with ``prior``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from restora.degrade.kernels import check_kernel, gaussian_kernel
from restora.degrade.operators import BlurProblem, blur_problem, task_operator
from restora.errors import InvalidParameterError, ShapeError
from restora.methods.denoisers import as_denoiser
from restora.methods.registry import register_method
from restora.options import AUTO, Execution, check_sigma
from restora.solvers.diffusion import (
    DIFFPIR_CITATION,
    DIFFPIR_DEFAULTS,
    DPS_CITATION,
    diffpir,
    dps,
)
from restora.weights import find_card, verified_path

#: Side (pixels) of the tiles the prior runs on when the estimate is larger (it is
#: patch-trained; memory stays bounded by the tile).
PRIOR_TILE = 512
#: DPS step size (zeta') per task for restora's prior: 15 was best of 5 / 15 / 40 on a
#: Val20 crop with 100 steps (256x256 RGB).
DPS_STEP_SIZE = 15.0
TASKS = ("deblur", "upscale", "inpaint")


def shipped_prior() -> Path:
    """The shipped diffusion prior's weight file (:mod:`restora.weights`), checked."""
    card = find_card("diffusion_prior")
    if card is None:
        raise InvalidParameterError(
            "diffpir: no diffusion prior ships with this install; give one trained by "
            "`restora train` (see configs/default_diffusion_prior.toml) with -O prior=PATH"
        )
    return verified_path(card)


def _problem(task: str, image: np.ndarray, *, kernel: Any, sigma: float | None,
             scale: int | None, mask: np.ndarray | None, method: str, boundary: str
             ) -> tuple[BlurProblem, float]:
    """The observation set up for the solver (deblurring and SR see photos with unknown
    borders unless ``boundary`` is ``circular``, see
    :func:`~restora.degrade.operators.blur_problem`) and its noise std in 8-bit units."""
    if task not in TASKS:
        raise InvalidParameterError(f"{method}: task must be one of {', '.join(TASKS)}; got {task!r}.")
    y = np.asarray(image, dtype=np.float64)
    if task == "deblur":
        if kernel is None:
            raise InvalidParameterError(
                f"{method}: task 'deblur' needs kernel (the 2-D blur kernel, summing to 1).")
        s = check_sigma(sigma, method=method, required=" for deblurring (e.g. 2.55).")
        return blur_problem(y, check_kernel(kernel, method=method), boundary=boundary), s
    s = 0.0 if sigma is None else check_sigma(sigma, method=method)
    if task == "upscale":
        if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
            raise InvalidParameterError(f"{method}: task 'upscale' needs scale, an integer >= 1; got {scale!r}.")
        k = gaussian_kernel(0.5 * scale) if kernel is None else check_kernel(kernel, method=method)
        return blur_problem(y, k, scale=int(scale), boundary=boundary), s
    if mask is None:
        raise InvalidParameterError(
            f"{method}: task 'inpaint' needs mask (HW, True / white = pixels to fill).")
    missing = np.asarray(mask)
    missing = missing[:, :, 0] if missing.ndim == 3 and missing.shape[2] == 1 else missing
    if missing.shape != y.shape[:2]:
        raise ShapeError(
            f"{method}: mask of shape {np.shape(mask)} does not match image of shape "
            f"{y.shape}; give an HW mask of the image's height and width.")
    missing = missing.astype(bool)
    frame = (slice(0, y.shape[0]), slice(0, y.shape[1]))
    return BlurProblem(y * ~missing[:, :, None], task_operator("inpaint", missing=missing),
                       None, frame), s


def _crop(x: np.ndarray, problem: BlurProblem) -> np.ndarray:
    """The estimate cut back to the photo's frame (``x`` HWC or a (k, H, W, C) stack)."""
    rows, cols = problem.crop
    return np.ascontiguousarray(x[..., rows, cols, :])


@register_method(
    "diffpir",
    task=TASKS,
    description="DiffPIR with restora's EDM diffusion prior (generative, seeded)",
    needs_sigma=True,
    halo=-1,
    citation=DIFFPIR_CITATION,
)
def diffpir_method(
    image: np.ndarray,
    *,
    task: str = "deblur",
    kernel: np.ndarray | None = None,
    sigma: float | None = None,
    scale: int | None = None,
    mask: np.ndarray | None = None,
    seed: int | None = None,
    steps: int = 20,
    samples: int | None = None,
    lam: float | None = None,
    zeta: float | None = None,
    prior: Any = None,
    boundary: str = "unknown",
    execution: Execution | None = None,
) -> np.ndarray:
    """DiffPIR (:func:`restora.solvers.diffusion.diffpir`) for ``task`` on HWC float32 [0, 1].

    deblur: ``kernel`` and ``sigma`` (noise, 8-bit units; estimated when not given by the
    runner); upscale: ``scale`` (``kernel``: the blur before decimation, default Gaussian
    std ``0.5 * scale``); inpaint: ``mask`` HW, True = pixels to fill. steps: denoiser calls;
    the same ``seed`` gives the same output; samples: ``k`` returns a (k, H, W, C) stack.
    lam / zeta: DiffPIR's data weight and noise share (default :data:`DIFFPIR_DEFAULTS`).
    boundary: ``unknown`` (photos) or ``circular`` (a periodic blur), as for ``pnp``.
    prior: the EDM prior (a weight file or name, a loaded model, a network or a
    :data:`~restora.models.inference.Denoise`; default :func:`shipped_prior`), run with
    ``execution``'s device and precision, in tiles of ``execution.tile`` pixels (``auto``:
    :data:`PRIOR_TILE`, overlap 64).
    """
    problem, s = _problem(task, image, kernel=kernel, sigma=sigma, scale=scale, mask=mask,
                          method="diffpir", boundary=boundary)
    execution = Execution() if execution is None else execution
    tile = PRIOR_TILE if execution.tile == AUTO else execution.tile
    overlap = min(execution.overlap * 2, tile // 4) if tile else 0
    denoise = as_denoiser(shipped_prior() if prior is None else prior, execution=execution,
                          tile=tile, overlap=overlap)
    d_lam, d_zeta = DIFFPIR_DEFAULTS[task]
    return _crop(diffpir(problem.y, problem.operator, denoise, sigma=s, steps=steps,
                         lam=d_lam if lam is None else lam, zeta=d_zeta if zeta is None else zeta,
                         seed=0 if seed is None else seed, samples=samples), problem)


@register_method(
    "dps",
    task=TASKS,
    description="Diffusion Posterior Sampling with restora's EDM prior (generative, seeded)",
    halo=-1,
    citation=DPS_CITATION,
)
def dps_method(
    image: np.ndarray,
    *,
    task: str = "deblur",
    kernel: np.ndarray | None = None,
    scale: int | None = None,
    mask: np.ndarray | None = None,
    seed: int | None = None,
    steps: int = 100,
    step_size: float = DPS_STEP_SIZE,
    prior: Any = None,
    boundary: str = "unknown",
    execution: Execution | None = None,
) -> np.ndarray:
    """DPS (:func:`restora.solvers.diffusion.dps`) for ``task``: as :func:`diffpir_method`,
    with the gradient of the measurement residual through the prior (each step also a
    backward pass; no tiling). The measurement noise needs no level."""
    problem, _ = _problem(task, image, kernel=kernel, sigma=0.0, scale=scale, mask=mask,
                          method="dps", boundary=boundary)
    denoise = as_denoiser(shipped_prior() if prior is None else prior, execution=execution,
                          grad=True)
    return _crop(dps(problem.y, problem.operator, denoise, steps=steps, step_size=step_size,
                     seed=0 if seed is None else seed), problem)
