"""The automatic mode: look at a photo, decide what it needs, and say why.

:func:`plan` inspects an image (JPEG quality from the file's quantisation tables, blind noise
estimate, on the luma of JPEGs) and returns a :class:`Plan`: the steps to run, deblock ->
denoise -> upscale, each with the reason it was chosen, plus notes on what was left alone.
Each step names what will run: the default for its task and the image's channels from the
one default table (:mod:`restora.defaults`). :class:`restora.run.Restorer` runs the plans;
this module only decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from restora.defaults import pick
from restora.errors import InvalidParameterError
from restora.estimate import estimate_sigma
from restora.io.bridge import to_float32
from restora.io.image import Photo
from restora.io.jpeg_quality import estimate_jpeg_quality

#: Estimates are capped at the top of the 8-bit range (a 1-bit image reads about 267).
SIGMA_MAX = 255.0

NOISE_THRESHOLD = 3.0
"""Denoise when the estimated noise std (8-bit units) is at least this.

Clean photos estimate at about 0.5-1 (scikit-image's astronaut: 0.46); visible sensor noise
starts around 3-5.
"""

DEBLOCK_BELOW = 90
"""Deblock JPEGs saved at a quality below this (at 90 and above blocking is not visible)."""


@dataclass(frozen=True)
class Step:
    """One operation of a plan: ``task`` run with the given parameters; ``runs``: what the
    default table picks for it on this image (for messages)."""

    action: str
    task: str
    reason: str
    runs: str
    sigma: float | None = None
    scale: int | None = None
    quality: int | None = None


@dataclass(frozen=True)
class Plan:
    """What the automatic mode decided for one image, and why.

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
    photo = image if isinstance(image, Photo) else None
    pixels = photo.pixels if photo is not None else to_float32(np.asarray(image))
    channels = pixels.shape[2]
    if scale is not None and (isinstance(scale, bool) or int(scale) != scale or scale < 2):
        raise InvalidParameterError(
            f"scale must be an integer >= 2 (or None to keep the size); got {scale!r}")
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
        noise = round(min(estimate_sigma(pixels, luma_only=q is not None), SIGMA_MAX), 2)
        noise_text = f"Estimated noise level sigma = {noise:.1f} (8-bit units)"
    if q is not None and q < DEBLOCK_BELOW:
        runs = pick("deblock", channels=channels).name
        steps.append(Step("deblock", "deblock", f"JPEG quality {q} {where} (below "
                          f"{DEBLOCK_BELOW}): deblocked with {runs}.", runs, quality=q))
        decisions.append(steps[-1].reason)
    elif q is not None:
        decisions.append(f"JPEG quality {q} {where} (at least {DEBLOCK_BELOW}): no visible "
                         "blocking, no deblocking.")
    elif photo is not None:
        decisions.append(f"Not a JPEG ({photo.format or 'unknown format'}): no deblocking.")
    else:
        decisions.append("An array has no JPEG tables: no deblocking (give quality to deblock).")

    # 2. noise
    if noise >= NOISE_THRESHOLD:
        runs = pick("denoise", channels=channels).name
        reason = (f"{noise_text}, at least {NOISE_THRESHOLD:g}: denoised with {runs} at "
                  f"sigma {noise:.1f}.")
        steps.append(Step("denoise", "denoise", reason, runs, sigma=noise))
        decisions.append(reason)
    elif scale is None and not steps:
        decisions.append(f"{noise_text} is below {NOISE_THRESHOLD:g}: the photo looks clean, "
                         "so it was kept as is.")
    else:
        decisions.append(f"{noise_text} is below {NOISE_THRESHOLD:g}: no denoising.")

    # 3. size
    if scale is not None:
        runs = pick("upscale", channels=channels, scale=int(scale)).name
        reason = f"Upscale x{int(scale)} asked (scale={int(scale)}): upscaled with {runs}."
        steps.append(Step("upscale", "upscale", reason, runs, scale=int(scale)))
        decisions.append(reason)
    else:
        decisions.append("No upscale asked.")
    detected = {"noise_sigma": noise, "threshold": NOISE_THRESHOLD, "jpeg_quality": q}
    return Plan(steps=tuple(steps), decisions=tuple(decisions), detected=detected)


__all__ = ["DEBLOCK_BELOW", "NOISE_THRESHOLD", "Plan", "Step", "plan"]
