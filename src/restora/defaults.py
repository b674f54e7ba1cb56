"""The one default table: which method runs for a task, per image, when the caller names none.

Per task and channel count (and, for upscaling, scale and whether a kernel is given) the
first row that fits wins. A row runs restora's shipped weights (:mod:`restora.weights`) or a
registered method that uses them (plug-and-play with the shipped denoiser for deblurring,
inpainting, demosaicking and kernel-aware super-resolution); when the shipped weights are
switched off (``RESTORA_DEFAULT_WEIGHTS=off``) or not installed, the row's classical
``fallback`` runs instead. The automatic mode (:mod:`restora.auto`), ``restora restore``,
``batch``, ``eval``, the web app and ``restora methods`` all read this table.

No heavy imports: the table is data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from restora import zoo
from restora.errors import InvalidParameterError
from restora.weights import ENV_SWITCH, installed


@dataclass(frozen=True)
class Default:
    """One row of the default table.

    task / channels: what it serves (image channel counts). scales: upscaling factors it
    serves (empty: any). noise: ``"shadows"`` = only for the sensor noise that brightening
    a dark photo amplifies (strong, fine-grained, signal-dependent: what the camera pipeline
    of :mod:`restora.degrade` synthesises; a blind model), ``None`` = for any noise (white
    noise at a given or estimated level; real in-camera noise of normally exposed photos,
    ``"camera"``, at the sigma the automatic mode derives). kernel: ``True`` = only when a blur kernel is given, ``False`` = only
    without one, ``None`` = either. weights: the shipped weight set the row needs. method: a
    registered method that runs with ``options`` (``None``: the weights run themselves).
    fallback / fallback_options: the classical method used when the weights are switched
    off or missing (``None``: the row is skipped then).
    """

    task: str
    channels: tuple[int, ...] = (1, 3)
    scales: tuple[int, ...] = ()
    kernel: bool | None = None
    noise: str | None = None
    weights: str | None = None
    method: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    fallback: str | None = None
    fallback_options: Mapping[str, Any] = field(default_factory=dict)

    def fits(self, task: str, channels: int, scale: int | None, has_kernel: bool,
             noise: str = "white") -> bool:
        return (self.task == task and channels in self.channels
                and (not self.scales or scale in self.scales)
                and (self.kernel is None or self.kernel == has_kernel)
                and (self.noise is None or self.noise == noise))


#: The table, in order of preference. Measured numbers for each row: README and
#: docs/benchmarks.md.
DEFAULTS: tuple[Default, ...] = (
    # Noise revealed by brightening (restora.methods.lowlight): the blind real-photo model,
    # trained on that noise; on CBSD68 darkened 5 stops, LIME then scores 19.12 dB with it,
    # 16.97 with denoise_color at twice the estimated sigma (docs/benchmarks.md).
    Default("denoise", (3,), noise="shadows", weights="denoise_real"),
    # In-camera noise of normally exposed photos (noise="camera") has no row of its own: the
    # colour model below runs at the sigma the automatic mode derives from the camera-noise
    # reading (restora.auto.camera_sigma): on nam_real_noise `--task denoise` 41.31 dB with
    # it, 39.99 with denoise_real (docs/benchmarks.md); a pulled zoo model with prefer_for
    # "denoise:3:camera" wins.
    Default("denoise", (1,), weights="denoise_gray", fallback="nlm"),
    Default("denoise", (3,), weights="denoise_color", fallback="nlm"),
    Default("deblock", (1, 3), weights="deblock_gray", fallback="jpeg_nlm"),
    Default("upscale", (1, 3), kernel=True, method="pnp", fallback="pnp",
            fallback_options={"denoiser": "tv"}),
    Default("upscale", (1, 3), scales=(4,), weights="upscale_x4", fallback="bicubic"),
    Default("upscale", (1, 3), scales=(2,), weights="upscale_x2", fallback="bicubic"),
    Default("upscale", (1, 3), fallback="bicubic"),
    Default("deblur", (1, 3), method="pnp", fallback="pnp", fallback_options={"denoiser": "tv"}),
    Default("inpaint", (1, 3), method="pnp", fallback="pnp", fallback_options={"denoiser": "tv"}),
    Default("demosaic", (1,), method="pnp", fallback="pnp", fallback_options={"denoiser": "tv"}),
    # LIME, not the shipped Zero-DCE++ curves ("zerodce", "lowlight" weights): best PSNR/SSIM
    # on CBSD68 darkened 3 and 5 stops (19.3 / 19.1 dB; the curves 17.3 / 11.8), hue error
    # within 0.7 degrees of the curves' (docs/benchmarks.md, "Low light")
    Default("lowlight", (1, 3), method="lime", fallback="lime"),
)

#: The learned denoiser plug-and-play methods use, per channel count of what they denoise.
DENOISERS: dict[int, Default] = {
    1: Default("denoise", (1,), weights="denoise_gray", fallback="tv"),
    3: Default("denoise", (3,), weights="denoise_color", fallback="tv"),
}


def weights_enabled() -> bool:
    """False when ``$RESTORA_DEFAULT_WEIGHTS`` is ``off`` (classical fallbacks only)."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() != "off"


@dataclass(frozen=True)
class Pick:
    """What the table chose: a registered ``method`` with ``options``, or shipped ``weights``
    run as a network (exactly one of the two is set, or both for a method using weights)."""

    method: str | None
    weights: str | None
    options: Mapping[str, Any]

    @property
    def name(self) -> str:
        """What runs, for messages: ``denoise_color``, ``pnp (denoiser denoise_color)``."""
        if self.method is None:
            return str(self.weights)
        extra = ", ".join(f"{k} {v}" for k, v in self.options.items())
        return f"{self.method} ({extra})" if extra else self.method


def _usable(weights: str | None) -> bool:
    return weights is None or (weights_enabled() and installed(weights))


def pick(task: str, *, channels: int, scale: int | None = None,
         has_kernel: bool = False, noise: str = "white") -> Pick:
    """The default for one image: the first row that fits, with its weights when they are
    usable, else its classical fallback. noise: ``"white"`` (default), ``"camera"`` (real
    camera noise, as :func:`restora.auto.read_noise` measures it) or ``"shadows"`` (noise
    that brightening revealed: the blind real-photo model's row first). Raises :class:`InvalidParameterError` when no row
    fits (e.g. a colour image for ``demosaic``, which takes a one-channel Bayer mosaic).

    A zoo model the user pulled whose entry is ``prefer_for`` this task and channel count
    comes first (:func:`restora.zoo.preferred`; off with ``RESTORA_ZOO_DEFAULTS=off``)."""
    if not has_kernel:
        entry = zoo.preferred(task, channels, scale or 1, noise)
        if entry is not None:
            return Pick(None, entry.name, {})
    for row in DEFAULTS:
        if not row.fits(task, channels, scale, has_kernel, noise):
            continue
        if row.method is not None and row.weights is None:  # a method choosing its own prior
            if _usable(DENOISERS[1 if channels == 1 and task != "demosaic" else 3].weights):
                return Pick(row.method, None, dict(row.options))
        elif row.weights is not None and _usable(row.weights):
            return Pick(row.method, row.weights, dict(row.options))
        if row.fallback is not None:
            return Pick(row.fallback, None, dict(row.fallback_options))
    served = sorted({c for row in DEFAULTS if row.task == task for c in row.channels})
    if not served:
        raise InvalidParameterError(f"no default method for task {task!r}")
    raise InvalidParameterError(
        f"task {task!r} takes images with {' or '.join(map(str, served))} channel(s); this "
        f"image has {channels}"
    )


def denoiser_for(channels: int) -> Pick:
    """The denoiser plug-and-play uses on ``channels``-channel images: the shipped learned
    one when usable, else TV."""
    row = DENOISERS[3 if channels != 1 else 1]
    if _usable(row.weights):
        return Pick(None, row.weights, {})
    return Pick(row.fallback, None, {})


def describe(task: str, channels: int, scale: int | None = None) -> str:
    """The default for a task on gray (1) or colour (3) images, as text (``restora methods``)."""
    try:
        chosen = pick(task, channels=channels, scale=scale)
    except InvalidParameterError:
        return "-"
    if chosen.method == "pnp" and not chosen.options:
        return f"pnp + {denoiser_for(channels if task != 'demosaic' else 3).name}"
    return chosen.name


def table_rows() -> list[tuple[str, str, str]]:
    """(task, gray default, colour default) for every task, for listings."""
    rows = []
    for task in dict.fromkeys(row.task for row in DEFAULTS):
        if task == "upscale":
            for s in (2, 4):
                rows.append((f"upscale x{s}", describe(task, 1, s), describe(task, 3, s)))
            continue
        rows.append((task, describe(task, 1), describe(task, 3)))
    return rows


__all__ = ["DEFAULTS", "DENOISERS", "Default", "Pick", "denoiser_for", "describe", "pick",
           "table_rows", "weights_enabled"]
