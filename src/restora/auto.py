"""The automatic pipeline: look at a photo, decide what it needs, say why, and do it.

:func:`plan` inspects an image (JPEG quality from the file's quantisation tables, blind noise
estimate) and returns a :class:`Plan`: the steps to run, deblock -> denoise -> upscale, each
with the reason it was chosen, plus notes on what was left alone. :func:`run_plan` executes
a plan through :func:`restora.api.restore`; :func:`run` does both.

Each step uses the task's shipped default weights when there are some
(:mod:`restora.weights`), otherwise the classical default (``DEFAULT_METHODS``). No
classical deblocker exists: until a learned one ships, JPEG artefacts are removed by
denoising at a sigma that depends on the quality (:data:`JPEG_SIGMA_RULE`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from restora.errors import InvalidParameterError

if TYPE_CHECKING:
    from restora.io.image import Photo

AUTO = "auto"

NOISE_THRESHOLD = 3.0
"""Denoise when the estimated noise std (8-bit units) is at least this.

Clean photos estimate at about 0.5-1 (scikit-image's astronaut: 0.46); visible sensor noise
starts around 3-5.
"""

DEBLOCK_BELOW = 90
"""Deblock JPEGs saved at a quality below this (at 90 and above blocking is not visible)."""

JPEG_SIGMA_RULE = ((10, 20, 30, 50, 70, 90), (10.0, 7.0, 5.0, 4.0, 3.0, 2.0))
"""JPEG quality -> sigma (8-bit units) for deblocking with the default denoiser (nlm).

The sigma maximising the mean RGB PSNR of nlm on 8 bsd400_color training images
(BSDS500 train/test; no test set) compressed by Pillow at each quality (4:2:0), measured by
``benchmarks/auto_jpeg_sigma.py``; linear in between, constant outside. The gains are
modest (+0.55, +0.32, +0.23, +0.13, +0.05, +0.04 dB at those qualities): a stand-in until
a learned deblocker ships.
"""

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Step:
    """One operation of a plan.

    action: what it does for the photo (``deblock``, ``denoise``, ``upscale``); task: the
    registry task it runs as (a classical deblock runs as ``denoise``). Exactly one of
    ``method`` (registered name) or ``model`` (weight file) is set.
    """

    action: str
    task: str
    reason: str
    method: str | None = None
    model: Path | None = None
    sigma: float | None = None
    scale: int | None = None
    quality: int | None = None

    @property
    def runs(self) -> str:
        """What runs: the method name or the weight file's name."""
        return self.method if self.model is None else self.model.name  # type: ignore[return-value]


@dataclass(frozen=True)
class Plan:
    """What the automatic pipeline decided for one image, and why.

    steps: in execution order. decisions: every reason, steps and things left alone, in the
    order they were decided. detected: the measurements (``noise_sigma`` in 8-bit units,
    ``threshold``, ``jpeg_quality`` or ``None``).
    """

    steps: tuple[Step, ...]
    decisions: tuple[str, ...]
    detected: dict[str, float | int | None] = field(default_factory=dict)

    def explain(self) -> str:
        """The decisions as a short text, one per line."""
        head = "automatic plan: " + (
            " -> ".join(f"{s.action} ({s.runs})" for s in self.steps) or "nothing to do")
        return "\n".join([head, *(f"  - {d}" for d in self.decisions)])

    @property
    def summary(self) -> str:
        """The decisions as one paragraph (for the web page)."""
        return " ".join(self.decisions)


def jpeg_sigma(quality: int) -> float:
    """The deblocking sigma (8-bit units) for a JPEG quality, from :data:`JPEG_SIGMA_RULE`."""
    return float(np.interp(quality, *JPEG_SIGMA_RULE))


def _method_for(task: str, channels: int, scale: int | None = None) -> tuple[str | None, Path | None]:
    """(method name, weight file) for a task: shipped weights first, else the classical default."""
    from restora.api import DEFAULT_METHODS
    from restora.weights import default_model

    path = default_model(task, channels=channels, scale=scale)
    if path is not None:
        return None, path
    return DEFAULT_METHODS.get(task), None


def plan(
    image: Photo | np.ndarray,
    *,
    sigma: float | None = None,
    scale: int | None = None,
    quality: int | None = None,
) -> Plan:
    """Decide the steps for ``image`` (a :class:`~restora.io.image.Photo` or an HW/HWC array).

    sigma: the noise std (8-bit units) if known; ``None`` estimates it.
    quality: the JPEG quality of the input if known; ``None`` reads it from the photo's JPEG
        file (:func:`restora.io.jpeg_quality.estimate_jpeg_quality`); arrays have none.
    scale: upscaling factor asked for (``None`` = keep the size).
    """
    from restora.io.image import Photo
    from restora.io.jpeg_quality import estimate_jpeg_quality
    photo = image if isinstance(image, Photo) else None
    pixels = _as_hwc(image.pixels if photo is not None else image)
    channels = pixels.shape[2]
    if scale is not None and (isinstance(scale, bool) or int(scale) != scale or scale < 2):
        raise InvalidParameterError(f"scale must be an integer >= 2 (or None to keep the size); got {scale!r}")
    if quality is not None and not 1 <= int(quality) <= 100:
        raise InvalidParameterError(f"quality is a JPEG quality in 1..100; got {quality!r}")
    steps: list[Step] = []
    decisions: list[str] = []

    # 1. JPEG artefacts
    if quality is not None:
        q, where = int(quality), f"given (quality={int(quality)})"
    elif photo is not None:
        q, where = estimate_jpeg_quality(photo), "from the quantisation tables"
    else:
        q, where = None, ""
    if sigma is not None:
        noise, noise_text = float(sigma), f"Noise level sigma = {float(sigma):.1f} (8-bit units, given)"
    else:
        from restora.methods.noise_level import estimate_sigma

        noise = round(estimate_sigma(pixels, luma_only=q is not None), 2)
        noise_text = f"Estimated noise level sigma = {noise:.1f} (8-bit units)"
    merged = False
    if q is not None and q < DEBLOCK_BELOW:
        method, model = _method_for("deblock", channels)
        if model is not None:
            steps.append(Step("deblock", "deblock", f"JPEG quality {q} {where} (below "
                              f"{DEBLOCK_BELOW}): deblocked with {model.name}.",
                              model=model, quality=q))
        else:
            method, _ = _method_for("denoise", channels)  # classical stand-in (see module doc)
            s = jpeg_sigma(q)
            merged = noise >= NOISE_THRESHOLD and noise > s
            reason = (f"JPEG quality {q} {where} (below {DEBLOCK_BELOW}): deblocked by denoising "
                      f"with {method} at sigma {s:.1f}, the sigma measured best for that quality "
                      "(no learned deblocker is shipped yet).")
            if merged:
                reason = (f"JPEG quality {q} {where} (below {DEBLOCK_BELOW}) and {noise_text[0].lower()}"
                          f"{noise_text[1:]}, above the {s:.1f} that deblocking at that quality "
                          f"needs: deblocked and denoised with {method} at sigma {noise:.1f} in one "
                          "pass (no learned deblocker is shipped yet).")
                s = noise
            steps.append(Step("deblock", "denoise", reason, method=method, sigma=s, quality=q))
    elif q is not None:
        decisions.append(f"JPEG quality {q} {where} (at least {DEBLOCK_BELOW}): no visible "
                         "blocking, no deblocking.")
    elif photo is not None:
        decisions.append(f"Not a JPEG ({photo.format or 'unknown format'}): no deblocking.")
    else:
        decisions.append("An array has no JPEG tables: no deblocking (give quality to deblock).")
    if steps:
        decisions.append(steps[-1].reason)

    # 2. noise
    if not merged:
        if noise >= NOISE_THRESHOLD:
            method, model = _method_for("denoise", channels)
            name = method or model.name  # type: ignore[union-attr]
            reason = (f"{noise_text}, at least {NOISE_THRESHOLD:g}: denoised with {name} at "
                      f"sigma {noise:.1f}.")
            steps.append(Step("denoise", "denoise", reason, method=method, model=model, sigma=noise))
            decisions.append(reason)
        elif scale is None and not steps:
            decisions.append(f"{noise_text} is below {NOISE_THRESHOLD:g}: the photo looks clean, "
                             "so it was kept as is.")
        else:
            decisions.append(f"{noise_text} is below {NOISE_THRESHOLD:g}: no denoising.")

    # 3. size
    if scale is not None:
        method, model = _method_for("upscale", channels, scale=int(scale))
        if method is None and model is None:
            raise InvalidParameterError("no upscaling method is available")
        reason = f"Upscale x{int(scale)} asked (scale={int(scale)}): upscaled with {method or model.name}."  # type: ignore[union-attr]
        steps.append(Step("upscale", "upscale", reason, method=method, model=model, scale=int(scale)))
        decisions.append(reason)
    else:
        decisions.append("No upscale asked.")
    detected = {"noise_sigma": noise, "threshold": NOISE_THRESHOLD, "jpeg_quality": q}
    return Plan(steps=tuple(steps), decisions=tuple(decisions), detected=detected)


@dataclass(frozen=True)
class RunOptions:
    """How the steps run: :func:`restora.api.restore`'s options of the same names.

    device / precision / batch / ensemble apply to the steps that run weights; classical
    steps run with the defaults. progress is called as ``progress(done, total)`` over the
    whole plan.
    """

    tile: int | None | Literal["auto"] = "auto"
    overlap: int = 32
    progress: Progress | None = None
    device: str = "cpu"
    precision: str = "auto"
    batch: int = 1
    ensemble: bool = False
    threads: int | None = None


def run_plan(the_plan: Plan, image: Photo | np.ndarray, options: RunOptions | None = None) -> np.ndarray:
    """Run the plan's steps in order; returns HWC float32 in [0, 1] (the input untouched)."""
    from restora.api import resolve_method, restore
    from restora.io.image import Photo

    opts = RunOptions() if options is None else options
    pixels = _as_hwc(image.pixels if isinstance(image, Photo) else image)
    n = len(the_plan.steps)
    for i, step in enumerate(the_plan.steps):
        network = step.model is not None
        run_options = dict(device=opts.device, precision=opts.precision, ensemble=opts.ensemble) if network else {}
        info = resolve_method(step.method, task=step.task, model=step.model, **run_options)  # type: ignore[arg-type]
        pixels = restore(
            pixels,
            task=step.task,
            method=info,
            sigma=step.sigma if "sigma" in info.options else None,
            scale=step.scale,
            quality=step.quality if "quality" in info.options else None,
            tile=opts.tile,
            overlap=opts.overlap,
            progress=None if opts.progress is None else _step_progress(opts.progress, i, n),
            batch=opts.batch if network else 1,
            threads=opts.threads,
        )
    return pixels


def run(
    image: Photo | np.ndarray,
    *,
    sigma: float | None = None,
    scale: int | None = None,
    quality: int | None = None,
    explain: bool = False,
    options: RunOptions | None = None,
) -> tuple[np.ndarray, Plan]:
    """Plan (:func:`plan`) and run (:func:`run_plan`) the automatic pipeline on one image.

    Returns (HWC float32 [0, 1] pixels, the plan). explain: also print the plan to stderr.
    """
    the_plan = plan(image, sigma=sigma, scale=scale, quality=quality)
    if explain:
        print(the_plan.explain(), file=sys.stderr)
    return run_plan(the_plan, image, options), the_plan


def _as_hwc(image: np.ndarray) -> np.ndarray:
    from restora.api import _as_hwc_float

    pixels = _as_hwc_float(np.asarray(image))
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _step_progress(progress: Progress, index: int, count: int) -> Progress:
    """Map one step's ``(done, total)`` onto the whole plan (1000 units per step)."""

    def update(done: int, total: int) -> None:
        progress(index * 1000 + int(1000 * done / max(total, 1)), count * 1000)

    return update
