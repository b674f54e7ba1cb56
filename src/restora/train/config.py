"""Training configuration: frozen dataclasses, loaded 1:1 from TOML (or YAML) recipes.

A recipe file has top-level run keys (``output``, ``steps``, ``seed`` ...) and the sections
``[data]``, ``[degradation]``, ``[model]``, ``[optim]``. Unknown keys and wrong types are
refused with an :class:`~restora.errors.InvalidParameterError` naming the key, its section
and the file. Relative paths are taken relative to the current directory (as the CLI's
other paths are). No torch import here.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restora._optional import require
from restora.archs.registry import arch_names
from restora.errors import InvalidParameterError

DEGRADATIONS = ("gaussian", "camera", "jpeg", "sr", "second_order", "camera_isp", "real_mix", "real",
                "lowlight")
LOSSES = ("l1", "l2", "charbonnier", "edm", "zero_reference")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DataConfig:
    """Where the clean images come from and how patches are cut.

    train: folders of clean images (every readable image directly inside, sorted by name).
    val: folder of held-out clean images for validation PSNR, or None (no validation).
    channels: 1 (gray: colour images become MATLAB ``rgb2gray`` luma
        ``0.2989 R + 0.5870 G + 0.1140 B``) or 3 (colour: gray images are repeated).
    patch_size: side of the square random crops, pixels (images smaller than this are skipped).
    batch_size: patches per step.
    max_images: use only the first N training images (None: all).
    val_max_images: validate on the first N images of ``val`` (None: all).
    val_crop: centre-crop validation images to this side (None: whole images), for speed.
    augment: random horizontal flips and rot90s (the 8 dihedral transforms).
    colour_jitter: share (0..1) of colour patches re-rendered by
        :func:`restora.degrade.colour_jitter` (white balance, exposure with clipping,
        saturation, hue) before the degradation: more and stronger colours than BSD's.
    """

    train: list[str] = field(default_factory=list)
    val: str | None = None
    channels: int = 1
    patch_size: int = 48
    batch_size: int = 16
    max_images: int | None = None
    val_max_images: int | None = None
    val_crop: int | None = None
    augment: bool = True
    colour_jitter: float = 0.0


@dataclass(frozen=True)
class DegradationConfig:
    """The on-the-fly degradation that turns a clean patch into the network's input.

    kind: "gaussian" (AWGN, sigma uniform in [sigma_min, sigma_max]; the model receives
        sigma as a noise-level map), "camera" (Poisson-Gaussian noise in linear RGB:
        srgb_to_linear -> shot + read noise -> linear_to_srgb -> JPEG at a random quality),
        "jpeg" (JPEG at a random quality), "sr" (MATLAB bicubic downscale by ``scale`` then
        bicubic upscale back, the VDSR/DnCNN-3 input), "second_order" (blur, resize, noise,
        JPEG, twice, then resize back: Real-ESRGAN / BSRGAN style blind degradation),
        "camera_isp" (:func:`restora.degrade.camera_pipeline`: unprocess to a raw Bayer
        mosaic, shot + read noise at a random ISO, demosaic, colour, tone curve, optional
        sharpening, JPEG; Brooks et al. 2019), "real_mix" (:func:`restora.degrade.realistic_mix`,
        BSRGAN/SCUNet-style random-order blur, resize, correlated Gaussian noise, camera
        noise, JPEG twice). Both are blind: the target is the clean patch, the returned sigma
        is only the measured std of the residual (use a model without a noise map).
        "real" (blind real-photo denoising): per patch, with probability ``mix_fraction``
        the "real_mix" degradation, with probability ``clean_fraction`` only a JPEG
        (clean photos must pass through), otherwise :func:`restora.degrade.camera_pair`
        with shot-noise variance log-uniform in [shot_min, shot_max] (read noise by the
        log-linear ISO relation), whose *target* is the noise-free rendering of the same
        raw scene.
    sigma_min, sigma_max: AWGN std range, 8-bit units (gaussian; second_order noise). For
        a diffusion prior (arch "edm") the range is huge, e.g. [0.25, 10200] (EDM's
        0.002..80 for [-1, 1] data).
    sigma_sampling: "uniform" in [sigma_min, sigma_max], or "log_uniform" (needs sigma_min > 0).
    camera_fraction: share of "gaussian" samples degraded by the "camera" model instead
        (robustness to real sensor noise; the network then receives the measured noise std).
    pair_fraction, pair_map_gain: share of "gaussian" samples that carry in-camera noise
        instead: the residual of a :func:`restora.degrade.camera_pair` (demosaicked,
        signal-dependent, correlated, JPEG; drawn as for "real") added to the clean patch,
        which stays the target (the pair's own rendering has demosaicking artefacts a
        denoiser must not learn to keep); the network receives ``pair_map_gain`` x the
        noise's RMS as its noise map.
        ``camera_fraction`` applies to the other samples.
    val_sigma: the fixed AWGN std used for validation (gaussian), 8-bit units.
    photons_min, photons_max: electrons at white level, sampled log-uniformly (camera).
    read_sigma_min, read_sigma_max: read-noise std range, 8-bit units (camera).
    quality_min, quality_max: JPEG quality range, integers in 1..100, inclusive (jpeg,
        camera, second_order). camera_jpeg: apply the JPEG step in "camera".
    scale: integer downscale factor (sr; the resize range of second_order is
        [1/scale, 1.5] per stage, relative to the current size). For networks that upsample
        (arch "edsr" or "compact" with ``scale`` > 1) "sr" and "second_order" give the low-resolution
        image (patch_size / scale) as input; otherwise the result resized back to the patch.
    blur_sigma_max: largest Gaussian blur std, pixels (second_order; min 0.2).
    shot_min, shot_max: raw-scale shot-noise variance range (real; Brooks et al. use
        1e-4..1.2e-2; real photos at low ISO sit near the bottom).
    mix_fraction, clean_fraction: shares of "real_mix" and JPEG-only patches (real).
    noise_blur_max, noise_blur_fraction: share of the camera pairs whose rendered noise is
        low-passed (in-camera noise reduction), with a Gaussian std uniform in
        [0.3, noise_blur_max] px (real; see :func:`restora.degrade.camera_pair`).
    coarse_share_min: the low-passed noise's weight (``coarse_share``) is uniform in
        [coarse_share_min, 1]; below 1 fine grain and blotches of the same RMS mix.
    stops_min, stops_max: "lowlight" (:func:`restora.degrade.low_light`): the exposure is cut
        by a number of stops uniform in this range, in linear light, then camera noise with
        shot-noise variance log-uniform in [shot_min, shot_max] (read noise by the
        log-linear ISO relation), the tone curve and, with camera_jpeg, a JPEG at a quality
        in [quality_min, quality_max]. The target is the clean patch.
    """

    kind: str = "gaussian"
    sigma_min: float = 0.0
    sigma_max: float = 50.0
    sigma_sampling: str = "uniform"
    camera_fraction: float = 0.0
    pair_fraction: float = 0.0
    pair_map_gain: float = 1.0
    val_sigma: float = 25.0
    photons_min: float = 50.0
    photons_max: float = 2000.0
    read_sigma_min: float = 0.5
    read_sigma_max: float = 5.0
    quality_min: int = 30
    quality_max: int = 95
    camera_jpeg: bool = True
    scale: int = 2
    blur_sigma_max: float = 3.0
    shot_min: float = 1e-4
    shot_max: float = 1.2e-2
    mix_fraction: float = 0.3
    clean_fraction: float = 0.05
    noise_blur_max: float = 0.0
    noise_blur_fraction: float = 0.0
    coarse_share_min: float = 1.0
    stops_min: float = 1.0
    stops_max: float = 5.0


@dataclass(frozen=True)
class ModelConfig:
    """The network: one of restora's architectures and its constructor arguments.

    arch: "dncnn", "ffdnet", "drunet", "nafnet", "edsr" or "compact" (super-resolution:
        low-resolution input, ``scale`` x output), "zerodce" or "edm" (a diffusion prior: EDM-preconditioned DRUNet);
        ffdnet, drunet (unless ``noise_map = false``) and edm take a noise-level map.
    options: constructor arguments of that class (``[model.options]`` table), e.g.
        ``{in_channels = 1, num_features = 64, depth = 15}`` for FFDNet. ``in_channels``
        (and ``out_channels`` when the class has it) default to ``data.channels``.
    task: the task written into the exported model ("denoise", "deblock", "upscale",
        "restore"); None: "denoise" for gaussian/camera, "deblock" for jpeg, else "restore".
    init: start from these weights (a ``model.safetensors`` exported by an earlier run of
        the same arch and options) instead of a random initialisation: a fine-tuning stage.
    """

    arch: str = "ffdnet"
    options: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    init: str | None = None


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warmup then cosine decay, EMA, clipping, loss.

    lr: peak learning rate. min_lr: learning rate at the last step (cosine floor).
    warmup_steps: linear warmup from 0 to ``lr``. weight_decay: AdamW decoupled decay.
    betas: AdamW (beta1, beta2). grad_clip: max global gradient norm (0: no clipping).
    ema_decay: EMA of the weights, ``ema = d * ema + (1 - d) * w`` after every step
        (0: no EMA, the raw weights are exported); validation and export use the EMA.
    loss: "l1", "l2" (MSE), "charbonnier" (eps 1e-3) or "edm" (MSE weighted by
        (sigma^2 + sigma_data^2) / (sigma * sigma_data)^2, Karras et al. 2022; arch "edm" only)
        or "zero_reference" (Zero-DCE's target-free losses, :mod:`restora.train.zero_reference`;
        arch "zerodce" only).
    exposure: the well-exposedness level E of the "zero_reference" exposure loss (0.6 in
        Zero-DCE).
    """

    lr: float = 1e-3
    min_lr: float = 1e-6
    warmup_steps: int = 0
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    grad_clip: float = 0.0
    ema_decay: float = 0.999
    loss: str = "l1"
    exposure: float = 0.6


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run.

    output: run folder (checkpoints, ``log.jsonl``, ``plot.png``, ``model.safetensors``).
    steps: total optimiser steps (the LR schedule spans them).
    seed: seeds weight init (torch) and every batch (numpy, per step), so runs repeat.
    device: "auto" (cuda when available), "cpu" or "cuda".
    amp: bf16 autocast; None: on for cuda, off on CPU. On CPUs with AMX / AVX512-BF16
        (Intel Xeon 4th gen+) bf16 trains convolutions about 4x faster than fp32.
    deterministic: ``torch.use_deterministic_algorithms(True)`` for the run: the same config
        and seed give the same loss curve, bit for bit, on the same machine and thread count.
    channels_last: NHWC memory layout for the model and batches (faster convolutions on CPU
        and GPU; the maths is unchanged).
    threads: CPU threads for torch (None: torch's default).
    workers: processes that make batches ahead of the optimiser (0: in the training process).
        Batches are seeded per step, so any number gives the same run; a GPU needs several to
        be kept busy.
    val_every: validate every N steps (and at the end); 0: only at the end.
    checkpoint_every: write a resumable checkpoint every N steps (and at the end); 0: end only.
    log_every: write a ``log.jsonl`` line (mean loss since the last one) every N steps.
    data, degradation, model, optim: the sections above.
    """

    output: str = "runs/train"
    steps: int = 1000
    seed: int = 0
    device: str = "auto"
    amp: bool | None = None
    channels_last: bool = True
    deterministic: bool = False
    threads: int | None = None
    workers: int = 0
    val_every: int = 0
    checkpoint_every: int = 0
    log_every: int = 10
    data: DataConfig = field(default_factory=DataConfig)
    degradation: DegradationConfig = field(default_factory=DegradationConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON/TOML-able; None values kept) of this config."""
        return dataclasses.asdict(self)


_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "degradation": DegradationConfig,
    "model": ModelConfig,
    "optim": OptimConfig,
}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(tp))
        return f"{origin.__name__}[{args}]"
    return "None" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _matches(value: Any, tp: Any) -> bool:
    if tp is Any:
        return True
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is list:
        (item,) = typing.get_args(tp)
        return isinstance(value, (list, tuple)) and all(_matches(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return isinstance(value, tp)


def _coerce(value: Any, tp: Any) -> Any:
    """Ints given for floats become floats; tuples become lists (so configs compare equal)."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for a in typing.get_args(tp):
            if a is not type(None) and _matches(value, a):
                return _coerce(value, a)
        return value
    if tp is float:
        return float(value)
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_coerce(v, item) for v in value]
    if origin is dict:
        return dict(value)
    return value


def _build(cls: type, values: Any, *, section: str, source: str) -> Any:
    where = f"section [{section}]" if section else "the top level"
    if not isinstance(values, dict):
        raise InvalidParameterError(
            f"{source}: {where} must be a table of keys, got {type(values).__name__}"
        )
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if not section and key in _SECTIONS:
            continue  # built separately by config_from_dict
        if key not in names:
            known = ", ".join(n for n in names if section or n not in _SECTIONS)
            raise InvalidParameterError(
                f"{source}: unknown key '{key}' in {where}; known keys: {known}"
            )
        tp = hints[key]
        if not _matches(value, tp):
            raise InvalidParameterError(
                f"{source}: key '{key}' in {where} must be {_type_name(tp)}, got "
                f"{type(value).__name__} {value!r}"
            )
        kwargs[key] = _coerce(value, tp)
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any], *, source: str = "config") -> TrainConfig:
    """Build and check a :class:`TrainConfig` from a nested dict (the parsed file).

    ``source`` names the file in error messages. Raises InvalidParameterError for unknown
    keys, wrong types and values out of range.
    """
    if not isinstance(values, dict):
        raise InvalidParameterError(f"{source}: expected a table of keys, got {type(values).__name__}")
    sections = {}
    for name, cls in _SECTIONS.items():
        sections[name] = _build(cls, values.get(name, {}), section=name, source=source)
    top = _build(TrainConfig, values, section="", source=source)
    config = dataclasses.replace(top, **sections)
    validate(config, source=source)
    return config


def _check(ok: bool, source: str, message: str) -> None:
    if not ok:
        raise InvalidParameterError(f"{source}: {message}")


def validate(config: TrainConfig, *, source: str = "config") -> None:
    """Check ranges and choices; raises InvalidParameterError naming the key and section."""
    d, g, m, o = config.data, config.degradation, config.model, config.optim
    _check(config.steps >= 1, source, f"'steps' must be >= 1, got {config.steps}")
    _check(config.device in DEVICES, source, f"'device' must be one of {DEVICES}, got {config.device!r}")
    for key in ("val_every", "checkpoint_every"):
        _check(getattr(config, key) >= 0, source, f"'{key}' must be >= 0")
    _check(config.log_every >= 1, source, "'log_every' must be >= 1")
    _check(0 <= config.workers <= 64, source, f"'workers' must be in 0..64, got {config.workers}")
    _check(bool(d.train), source, "[data] 'train' must list at least one folder of clean images")
    _check(d.channels in (1, 3), source, f"[data] 'channels' must be 1 or 3, got {d.channels}")
    _check(d.patch_size >= 8, source, f"[data] 'patch_size' must be >= 8, got {d.patch_size}")
    _check(0.0 <= d.colour_jitter <= 1.0, source,
           f"[data] 'colour_jitter' must be in [0, 1], got {d.colour_jitter}")
    _check(d.batch_size >= 1, source, f"[data] 'batch_size' must be >= 1, got {d.batch_size}")
    _check(g.kind in DEGRADATIONS, source, f"[degradation] 'kind' must be one of {DEGRADATIONS}, got {g.kind!r}")
    top = 255 * 60 if o.loss == "edm" else 255  # a diffusion prior learns every noise level
    _check(0 <= g.sigma_min <= g.sigma_max <= top, source,
           f"[degradation] need 0 <= sigma_min <= sigma_max <= {top}, got {g.sigma_min}, {g.sigma_max}")
    _check(g.sigma_sampling in ("uniform", "log_uniform"), source,
           f"[degradation] 'sigma_sampling' must be 'uniform' or 'log_uniform', got {g.sigma_sampling!r}")
    _check(g.sigma_sampling != "log_uniform" or g.sigma_min > 0, source,
           "[degradation] 'log_uniform' sigma_sampling needs sigma_min > 0")
    _check(0 <= g.camera_fraction <= 1, source,
           f"[degradation] 'camera_fraction' must be in [0, 1], got {g.camera_fraction}")
    _check(0 <= g.pair_fraction <= 1, source,
           f"[degradation] 'pair_fraction' must be in [0, 1], got {g.pair_fraction}")
    _check(g.pair_fraction == 0 or g.kind == "gaussian", source,
           f"[degradation] 'pair_fraction' mixes in-camera noise into kind 'gaussian' only, not {g.kind!r}")
    _check(0 < g.pair_map_gain <= 10, source,
           f"[degradation] 'pair_map_gain' must be in (0, 10], got {g.pair_map_gain}")
    _check(1 <= g.quality_min <= g.quality_max <= 100, source,
           f"[degradation] need 1 <= quality_min <= quality_max <= 100, got {g.quality_min}, {g.quality_max}")
    _check(0 < g.photons_min <= g.photons_max, source, "[degradation] need 0 < photons_min <= photons_max")
    _check(0 <= g.read_sigma_min <= g.read_sigma_max, source, "[degradation] need 0 <= read_sigma_min <= read_sigma_max")
    _check(0 < g.shot_min <= g.shot_max <= 1, source,
           f"[degradation] need 0 < shot_min <= shot_max <= 1, got {g.shot_min}, {g.shot_max}")
    _check(g.mix_fraction >= 0 and g.clean_fraction >= 0 and g.mix_fraction + g.clean_fraction <= 1,
           source, "[degradation] mix_fraction and clean_fraction must be >= 0 with a sum <= 1")
    _check(0 <= g.noise_blur_fraction <= 1 and 0 <= g.noise_blur_max <= 5, source,
           "[degradation] need noise_blur_fraction in [0, 1] and noise_blur_max in [0, 5]")
    _check(0 <= g.coarse_share_min <= 1, source, "[degradation] need coarse_share_min in [0, 1]")
    _check(g.scale >= 1, source, f"[degradation] 'scale' must be >= 1, got {g.scale}")
    _check(0 <= g.stops_min <= g.stops_max <= 16, source,
           f"[degradation] need 0 <= stops_min <= stops_max <= 16, got {g.stops_min}, {g.stops_max}")
    _check(0 < o.exposure < 1, source, f"[optim] 'exposure' must be in (0, 1), got {o.exposure}")
    _check(g.kind not in ("sr", "second_order") or d.patch_size % g.scale == 0, source,
           f"[data] 'patch_size' {d.patch_size} must be a multiple of [degradation] 'scale' {g.scale}")
    archs = arch_names()
    _check(m.arch in archs, source, f"[model] 'arch' must be one of {archs}, got {m.arch!r}")
    _check(o.loss in LOSSES, source, f"[optim] 'loss' must be one of {LOSSES}, got {o.loss!r}")
    _check(len(o.betas) == 2, source, f"[optim] 'betas' must be two floats, got {o.betas}")
    _check(o.lr > 0 and o.min_lr >= 0, source, "[optim] need lr > 0 and min_lr >= 0")
    _check(0 <= o.ema_decay < 1, source, f"[optim] 'ema_decay' must be in [0, 1), got {o.ema_decay}")
    _check(o.warmup_steps >= 0 and o.grad_clip >= 0, source, "[optim] warmup_steps and grad_clip must be >= 0")


def load_config(path: str | Path) -> TrainConfig:
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``, needs PyYAML) recipe file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidParameterError(f"{path}: no such config file") from None
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        yaml = require("yaml", extra="train", purpose="reading YAML training configs")
        try:
            values = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InvalidParameterError(f"{path}: not valid YAML ({exc})") from None
    elif suffix == ".toml":
        import tomllib

        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidParameterError(f"{path}: not valid TOML ({exc})") from None
    else:
        raise InvalidParameterError(f"{path}: config files must end in .toml, .yaml or .yml")
    return config_from_dict(values, source=str(path))


def config_json(config: TrainConfig) -> str:
    """The config as sorted JSON (written next to checkpoints, compared on resume)."""
    return json.dumps(config.to_dict(), sort_keys=True)
