"""Named evaluation protocols: which channels, which border and which rounding a score uses.

A PSNR is only comparable with another PSNR measured under the same protocol. See
:mod:`restora.metrics` for what each name means.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from restora.errors import InvalidParameterError
from restora.metrics.full_reference import psnr, ssim

TASKS = ("denoise", "deblock", "deblur", "upscale")

#: Protocol name -> what it does (ordered; the first is the default of the papers).
PROTOCOLS: Mapping[str, str] = MappingProxyType(
    {
        "paper": (
            "the de facto protocol of BasicSR/KAIR: denoise/deblock/deblur on all channels "
            "(RGB or gray), no crop; upscale on the Y channel of MATLAB BT.601 YCbCr "
            "(float, not rounded) with crop_border = scale"
        ),
        "matlab": (
            "as 'paper', but for upscale Y*255 is rounded to integers as MATLAB rgb2ycbcr "
            "does on uint8 input (the MATLAB scripts of the older SR papers)"
        ),
        "rgb": (
            "all channels for every task (no Y conversion); crop_border = scale for upscale, "
            "0 otherwise"
        ),
    }
)

#: Per-image metric values, e.g. ``{"psnr": 32.1, "ssim": 0.91}``.
MetricResult = dict[str, float]


@dataclass(frozen=True)
class Protocol:
    """How a full-reference score is measured (the options of :func:`psnr` / :func:`ssim`).

    name: the protocol name (a key of :data:`PROTOCOLS`).
    y_channel: measure MATLAB BT.601 luma instead of all channels.
    crop_border: pixels removed from each edge.
    y_rounding: round Y*255 to integers (MATLAB ``rgb2ycbcr`` on uint8).
    description: one sentence saying all of the above for this task and scale.
    """

    name: str
    y_channel: bool
    crop_border: int
    y_rounding: bool
    description: str


def get_protocol(name: str, *, task: str, scale: int = 1) -> Protocol:
    """The :class:`Protocol` called ``name`` for ``task`` (``denoise``, ``deblock``,
    ``deblur``, ``upscale``) and integer ``scale`` (upscale only; 1 for the other tasks).

    Raises :class:`InvalidParameterError` for an unknown name or task, or a bad scale.
    """
    if name not in PROTOCOLS:
        raise InvalidParameterError(
            f"unknown metric protocol {name!r}; expected one of: {', '.join(PROTOCOLS)}"
        )
    if task not in TASKS:
        raise InvalidParameterError(
            f"unknown task {task!r} for protocol {name!r}; expected one of: {', '.join(TASKS)}"
        )
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise InvalidParameterError(
            f"scale must be a positive integer (the upscaling factor); got {scale!r}"
        )
    scale = int(scale)
    if task != "upscale" and scale != 1:
        raise InvalidParameterError(
            f"scale={scale} only applies to task 'upscale'; for task {task!r} leave scale=1"
        )
    if task == "upscale":
        crop = scale
        if name == "rgb":
            y_channel, y_rounding = False, False
            what = "all channels"
        else:
            y_channel, y_rounding = True, name == "matlab"
            what = "Y channel of MATLAB BT.601 YCbCr" + (
                ", Y*255 rounded to integers" if y_rounding else " (float, not rounded)"
            )
        desc = f"{name} protocol, upscale x{scale}: {what}, {crop} px border cropped"
    else:
        crop, y_channel, y_rounding = 0, False, False
        desc = f"{name} protocol, {task}: all channels (RGB or gray), no border cropped"
    return Protocol(
        name=name,
        y_channel=y_channel,
        crop_border=crop,
        y_rounding=y_rounding,
        description=desc,
    )


def evaluate_pair(
    reference: np.ndarray, test: np.ndarray, protocol: Protocol
) -> MetricResult:
    """PSNR (dB) and SSIM of ``test`` against ``reference`` under ``protocol``.

    Images as for :func:`restora.metrics.psnr`. Returns ``{"psnr": ..., "ssim": ...}``.
    """
    if not isinstance(protocol, Protocol):
        raise InvalidParameterError(
            f"protocol must be a Protocol (from get_protocol(name, task=..., scale=...)); "
            f"got {type(protocol).__name__}"
        )
    opts = {
        "crop_border": protocol.crop_border,
        "y_channel": protocol.y_channel,
        "y_rounding": protocol.y_rounding,
    }
    return {
        "psnr": psnr(reference, test, **opts),
        "ssim": ssim(reference, test, **opts),
    }


def mean_results(results: Iterable[Mapping[str, float]]) -> MetricResult:
    """Mean of each metric over per-image results (all must have the same keys).

    A PSNR of ``inf`` (an identical pair) makes the mean ``inf``, as it should: report it
    rather than hide it. Raises :class:`InvalidParameterError` for an empty list or
    mismatched keys.
    """
    rows = list(results)
    if not rows:
        raise InvalidParameterError(
            "mean_results: got no results to average (empty list)"
        )
    keys = list(rows[0])
    for i, row in enumerate(rows):
        if set(row) != set(keys):
            raise InvalidParameterError(
                f"mean_results: result {i} has keys {sorted(row)}, but result 0 has "
                f"{sorted(keys)}; every result must measure the same metrics"
            )
    return {k: float(np.mean([float(row[k]) for row in rows])) for k in keys}
