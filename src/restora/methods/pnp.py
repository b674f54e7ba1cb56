"""Plug-and-play as a registered method: ``pnp`` for deblurring, kernel-aware super-resolution,
inpainting and demosaicking (the solver is :mod:`restora.solvers.pnp`).

The prior is restora's shipped learned denoiser for the image's channels (the default
table, :func:`restora.defaults.denoiser_for`), or any denoiser named with ``denoiser``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from restora.defaults import denoiser_for
from restora.errors import InvalidParameterError
from restora.methods.denoisers import as_denoiser
from restora.methods.registry import register_method
from restora.options import Execution
from restora.solvers.pnp import DPIR_CITATION, pnp_solve


def default_denoiser(channels: int) -> str:
    """The denoiser ``pnp`` uses on ``channels``-channel images when none is named: the
    shipped learned one (``denoise_gray`` / ``denoise_color``), or ``tv`` when the shipped
    weights are switched off or missing. (``bm3d`` gains ~3 dB over ``tv`` but takes ~50 s per
    256x256 image on a CPU core.)"""
    pick = denoiser_for(channels)
    return str(pick.weights or pick.method)


@register_method(
    "pnp",
    task=("deblur", "upscale", "inpaint", "demosaic"),
    description="Plug-and-play HQS (DPIR schedule) with restora's learned denoiser as the prior",
    needs_sigma=True,
    halo=-1,
    citation=DPIR_CITATION,
)
def pnp(
    image: np.ndarray,
    *,
    task: str = "deblur",
    kernel: np.ndarray | None = None,
    sigma: float | None = None,
    scale: int | None = None,
    mask: np.ndarray | None = None,
    denoiser: Any = None,
    iterations: int | None = None,
    bayer: str = "RGGB",
    boundary: str = "unknown",
    execution: Execution | None = None,
) -> np.ndarray:
    """Plug-and-play restoration of ``image`` (HWC float32 [0, 1]) for ``task``.

    deblur: ``kernel`` required, ``sigma`` the noise (estimated when not given); upscale:
    ``scale`` required, ``kernel`` the blur before decimation (default Gaussian std
    ``0.5 * scale``); inpaint: ``mask`` HW, True = pixels to fill; demosaic: a one-channel
    Bayer mosaic of layout ``bayer`` -> RGB. denoiser: a method or weight-set name, a weight file
    or a loaded model (default :func:`default_denoiser`); iterations: DPIR's per task when
    ``None``; boundary: ``unknown`` (photos: nothing assumed of the scene beyond the frame)
    or ``circular`` (a periodic blur, the synthetic benchmark protocol). The network runs with ``execution``'s device and precision; its ``ensemble``
    turns on DPIR's x8 mode (one flip/rotation per iteration).
    """
    execution = Execution() if execution is None else execution
    if task == "deblur" and kernel is None:
        raise InvalidParameterError(
            "pnp deblurring needs the blur kernel (--kernel gauss:2.0, motion:15,30 or a file)")
    if task == "upscale" and scale is None:
        raise InvalidParameterError("pnp upscaling needs scale (e.g. 2 or 4)")
    channels = 3 if task == "demosaic" else image.shape[2]
    prior = as_denoiser(default_denoiser(channels) if denoiser is None else denoiser,
                        execution=execution)
    return pnp_solve(task, image, prior, sigma=0.0 if sigma is None else sigma, kernel=kernel,
                     scale=scale, missing=mask, pattern=bayer, iterations=iterations,
                     ensemble=execution.ensemble, boundary=boundary)
