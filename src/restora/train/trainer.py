"""The training loop: AdamW + warmup/cosine, EMA, AMP, clipping, resumable checkpoints.

Run folder layout (``config.output``):
  ``checkpoint.safetensors``  model (``model.*``) and EMA (``ema.*``) weights
  ``checkpoint_state.pt``     step, optimizer, scheduler, torch RNG and the config as JSON,
                              plain tensors/ints/strings only (loads with ``weights_only=True``)
  ``log.jsonl``               one JSON object per log/validation event
  ``plot.png``                loss and validation PSNR curves (Pillow)
  ``model.safetensors``       the EMA weights exported with :func:`restora.models.save_network`
"""

from __future__ import annotations

import collections
import contextlib
import copy
import inspect
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from restora.archs.registry import get_spec, specs
from restora.errors import InvalidParameterError, ModelLoadError, OutputExistsError
from restora.io.atomic import atomic_write
from restora.metrics import psnr
from restora.models import load_model, save_network
from restora.train.config import DEVICES, TrainConfig, config_json
from restora.train.data import Batch, PatchSampler, validation_set
from restora.train.plot import plot_history
from restora.train.zero_reference import zero_reference_loss

if TYPE_CHECKING:
    import torch
    from torch import nn

CHECKPOINT = "checkpoint.safetensors"
STATE = "checkpoint_state.pt"
LOG = "log.jsonl"
PLOT = "plot.png"
EXPORT = "model.safetensors"
# Keys that may change between a run and its resumption (they do not change the maths).
_RESUMABLE_CHANGES = ("device", "threads", "workers", "val_every", "checkpoint_every", "log_every", "output",
                      "amp", "channels_last")


@dataclass(frozen=True)
class TrainResult:
    """What a run did.

    output: the run folder. model_path: the exported EMA model (``model.safetensors``).
    steps: optimiser steps done in total (including those before a resume).
    finished: ``steps == config.steps``. loss: mean training loss over the last log window.
    val_psnr: last validation PSNR (dB, uint8-quantised outputs), None without validation.
    best_val_psnr: best validation PSNR seen in this process. seconds: wall time of this call.
    history: the log records written by this call.
    """

    output: Path
    model_path: Path
    steps: int
    finished: bool
    loss: float
    val_psnr: float | None
    best_val_psnr: float | None
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)


def model_config(config: TrainConfig) -> dict[str, Any]:
    """Constructor arguments of the network: ``[model.options]`` with channels filled in."""
    params = inspect.signature(get_spec(config.model.arch).cls.__init__).parameters
    opts = dict(config.model.options)
    for key in ("in_channels", "out_channels"):
        if key in params and key not in opts:
            opts[key] = config.data.channels
    return opts


def build_model(config: TrainConfig) -> nn.Module:
    """The network of ``config.model``; raises InvalidParameterError for bad options."""
    spec = get_spec(config.model.arch)
    bound = {s.train_loss for s in specs() if s.train_loss is not None}
    if config.optim.loss != spec.train_loss and (spec.train_loss or config.optim.loss in bound):
        raise InvalidParameterError(
            f"[optim] loss {config.optim.loss!r} does not go with [model] arch {spec.name!r}"
            + (f": it trains with loss {spec.train_loss!r}" if spec.train_loss else ""))
    opts = model_config(config)
    try:
        model = spec.build(opts)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"[model] options {opts} do not fit {config.model.arch}: {exc}") from None
    channels = opts.get("in_channels", 3)
    if channels != config.data.channels:
        raise InvalidParameterError(
            f"[model] options in_channels={channels} but [data] channels={config.data.channels}; make them equal"
        )
    return model


def lr_factor(step: int, *, steps: int, warmup: int, min_ratio: float) -> float:
    """LR multiplier at ``step``: linear warmup over ``warmup`` steps, then cosine to ``min_ratio``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _loss(name: str, out: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor | None = None,
          sigma_data: float = 0.25) -> torch.Tensor:
    """``sigma``: per-sample noise std, 8-bit units (the "edm" weighting needs it)."""
    import torch
    import torch.nn.functional as F

    if name == "edm":
        from restora.archs.edm import edm_loss_weight

        weight = edm_loss_weight(sigma / 255.0, sigma_data).reshape(-1, 1, 1, 1)
        return (weight * (out - target) ** 2).mean()
    if name == "l1":
        return F.l1_loss(out, target)
    if name == "l2":
        return F.mse_loss(out, target)
    return torch.sqrt((out - target) ** 2 + 1e-6).mean()


def needs_sigma(model: nn.Module, arch: str) -> bool:
    """Whether ``model`` (one of ours, built for ``arch``) takes a noise-level map."""
    return bool(get_spec(arch).contract(model)["needs_sigma"])


def _forward(model: nn.Module, x: torch.Tensor, sigma: torch.Tensor, arch: str) -> torch.Tensor:
    return model(x, sigma / 255.0) if needs_sigma(model, arch) else model(x)


def _resolve_device(requested: str) -> str:
    import torch

    if requested not in DEVICES:
        raise InvalidParameterError(f"device must be one of {DEVICES}, got {requested!r}")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError("device 'cuda' requested but torch sees no CUDA GPU; use --device cpu")
    return requested


def validate_psnr(
    model: nn.Module, val: list[tuple[np.ndarray, np.ndarray, float]], *, arch: str, device: str
) -> float:
    """Mean PSNR (dB) of ``model`` on the validation triples, outputs quantised to uint8."""
    import torch


    was_training = model.training
    model.eval()
    scores = []
    with torch.inference_mode():
        for clean, degraded, sigma in val:
            x = torch.from_numpy(np.ascontiguousarray(degraded.transpose(2, 0, 1)))[None].to(device)
            s = torch.tensor([sigma], dtype=torch.float32, device=device)
            y = _forward(model, x, s, arch)[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
            y8 = np.rint(y * 255.0).astype(np.uint8)
            c8 = np.rint(clean * 255.0).astype(np.uint8)
            scores.append(psnr(c8, y8))
    model.train(was_training)
    return float(np.mean(scores))


def _update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    import torch

    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.lerp_(p.detach(), 1.0 - decay)
        for e, b in zip(ema.buffers(), model.buffers(), strict=True):
            e.copy_(b)


def _save_checkpoint(out: Path, step: int, model: nn.Module, ema: nn.Module, opt: Any, sched: Any,
                     config: TrainConfig) -> None:
    import torch
    from safetensors.torch import save


    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.state_dict().items()})
    data = save(tensors, metadata={"step": str(step)})
    atomic_write(out / CHECKPOINT, lambda fh: fh.write(data))
    state = {
        "step": int(step),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "config": config_json(config),
    }
    atomic_write(out / STATE, lambda fh: torch.save(state, fh))


def _load_checkpoint(out: Path, model: nn.Module, ema: nn.Module, opt: Any, sched: Any,
                     config: TrainConfig) -> int:
    import torch
    from safetensors.torch import load_file

    if not (out / CHECKPOINT).is_file() or not (out / STATE).is_file():
        raise InvalidParameterError(
            f"{out}: nothing to resume (no {CHECKPOINT} / {STATE}); run without --resume"
        )
    state = torch.load(out / STATE, map_location="cpu", weights_only=True)
    saved = json.loads(state["config"])
    now = config.to_dict()
    # keys added to a section since the checkpoint was written compare at their defaults
    defaults = TrainConfig().to_dict()
    saved = {k: {**defaults[k], **v} if isinstance(v, dict) and isinstance(defaults.get(k), dict) else v
             for k, v in {**defaults, **saved}.items()}
    diff = [k for k in sorted(set(saved) | set(now)) if k not in _RESUMABLE_CHANGES and saved.get(k) != now.get(k)]
    if diff:
        raise InvalidParameterError(
            f"{out}: the config differs from the checkpoint's in {', '.join(diff)}; resume with "
            f"the same recipe, or start a new run in another output folder"
        )
    tensors = load_file(str(out / CHECKPOINT), device="cpu")
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])


def _load_init(model: nn.Module, config: TrainConfig) -> None:
    """Load ``config.model.init`` (weights of the same network) into ``model``; a noise-map
    network may start a blind one of the same architecture (its noise-level input is dropped)."""

    desc = load_model(config.model.init)
    if desc.arch != config.model.arch:
        raise InvalidParameterError(
            f"[model] init {config.model.init} holds a {desc.arch} network, not {config.model.arch}"
        )
    state = {k: v.float() for k, v in desc.model.state_dict().items()}
    own = model.state_dict()
    if desc.needs_sigma and not getattr(model, "noise_map", True):
        # a noise-map network starting a blind one: drop the noise-level input channel
        # (the head's last input channel) and keep everything else
        for key, value in state.items():
            want = own.get(key)
            if want is not None and value.ndim == 4 and value.shape[1] == want.shape[1] + 1:
                state[key] = value[:, : want.shape[1]].contiguous()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(
            f"[model] init {config.model.init} does not fit [model] options {config.model.options}: "
            f"{str(exc)[:300]}"
        ) from None


def _read_log(path: Path, upto: int) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if r.get("step", 0) <= upto]


def export_model(ema: nn.Module, config: TrainConfig, path: Path) -> Path:
    """Save ``ema`` with :func:`restora.models.save_network` (arch + config in the metadata)."""
    import torch

    model = copy.deepcopy(ema).float().cpu().eval().to(memory_format=torch.contiguous_format)
    contract = get_spec(config.model.arch).contract(model)
    kind = config.degradation.kind
    denoising = {"gaussian", "camera", "camera_isp", "real_mix", "real"}
    default_task = "upscale" if contract["scale"] > 1 else contract["task"]
    task = config.model.task or ("denoise" if kind in denoising else "deblock" if kind == "jpeg" else default_task)
    return save_network(model, config.model.arch, model_config(config), path, task=task)


class _Bar:
    """Rich progress bar with loss, PSNR and ETA (a no-op when disabled)."""

    def __init__(self, enabled: bool, total: int, start: int) -> None:
        self.progress = None
        if enabled:
            from rich import progress as rp

            self.progress = rp.Progress(
                rp.TextColumn("train"), rp.BarColumn(), rp.MofNCompleteColumn(),
                rp.TextColumn("{task.fields[info]}"), rp.TimeElapsedColumn(), rp.TextColumn("ETA"),
                rp.TimeRemainingColumn(),
            )
            self.task = self.progress.add_task("train", total=total, completed=start, info="")

    def __enter__(self) -> Self:
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def update(self, step: int, loss: float | None, psnr: float | None) -> None:
        if self.progress is not None:
            info = f"loss {loss:.4g}" if loss is not None else ""
            if psnr is not None:
                info += f"  val {psnr:.2f} dB"
            self.progress.update(self.task, completed=step, info=info)


_WORKER_SAMPLER: PatchSampler | None = None


def _set_worker_sampler(sampler: PatchSampler) -> None:
    global _WORKER_SAMPLER
    _WORKER_SAMPLER = sampler


def _worker_batch(step: int) -> Batch:
    assert _WORKER_SAMPLER is not None
    return _WORKER_SAMPLER.batch(step)


@contextlib.contextmanager
def _batches(sampler: PatchSampler, start: int, stop: int, workers: int) -> Iterator[Iterator[Batch]]:
    """The batches of steps ``start..stop-1`` in order: made here (``workers`` 0), or ahead by
    ``workers`` forked processes (the same batches: each is seeded by its step)."""
    if workers == 0:
        yield (sampler.batch(step) for step in range(start, stop))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_set_worker_sampler, initargs=(sampler,))

    def ahead() -> Iterator[Batch]:
        pending: collections.deque = collections.deque()
        for step in range(start, stop):
            pending.append(pool.submit(_worker_batch, step))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    try:
        yield ahead()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    max_steps: int | None = None,
    time_limit: float | None = None,
    device: str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``config.model`` on ``config.data`` degraded by ``config.degradation``.

    resume: continue from the checkpoint in ``config.output`` (same recipe required); the
        continued run matches an uninterrupted one step for step (batches are seeded per step).
    max_steps: stop after this many steps in total (the LR schedule still spans
        ``config.steps``), leaving a checkpoint to ``resume`` from.
    time_limit: seconds of training (from the first step; loading and building excluded)
        after which the run stops at the end of the current step, validates, checkpoints and
        exports as at ``max_steps`` (a cluster job's or a lent GPU's wall-clock limit).
    device: overrides ``config.device`` ("auto", "cpu", "cuda").
    progress: show a Rich progress bar.
    Writes checkpoints, ``log.jsonl``, ``plot.png`` and the exported EMA model
    ``model.safetensors`` into ``config.output``. Raises InvalidParameterError, DatasetError,
    OutputExistsError (an earlier run is there and ``resume`` is False).
    """
    import torch

    if device is not None:
        config = replace(config, device=device)
    if max_steps is not None and max_steps < 1:
        raise InvalidParameterError(f"max_steps must be >= 1, got {max_steps}")
    if time_limit is not None and not time_limit > 0:
        raise InvalidParameterError(f"time_limit must be > 0 seconds, got {time_limit}")
    dev = _resolve_device(config.device)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    out = Path(config.output)
    if not resume and (out / STATE).exists():
        raise OutputExistsError(out, "holds a training run already; pass --resume to continue it, "
                                "or choose another output folder")
    out.mkdir(parents=True, exist_ok=True)
    stop = min(config.steps, max_steps) if max_steps is not None else config.steps
    amp = config.amp if config.amp is not None else dev == "cuda"

    torch.manual_seed(config.seed)
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(config.deterministic or deterministic_before)
    try:
        return _train(config, dev, out, stop, amp, resume, progress, time_limit)
    finally:
        torch.use_deterministic_algorithms(deterministic_before)


def _train(config: TrainConfig, dev: str, out: Path, stop: int, amp: bool, resume: bool,
           progress: bool, time_limit: float | None = None) -> TrainResult:
    import torch


    arch, o = config.model.arch, config.optim
    model = build_model(config)
    if config.model.init is not None:
        _load_init(model, config)
    model = model.to(dev).train()
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, betas=(o.betas[0], o.betas[1]),
                            weight_decay=o.weight_decay)
    min_ratio = o.min_lr / o.lr

    def factor(step: int) -> float:
        return lr_factor(step, steps=config.steps, warmup=o.warmup_steps, min_ratio=min_ratio)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    start = 0
    history: list[dict[str, Any]] = []
    if resume:
        start = _load_checkpoint(out, model, ema, opt, sched, config)
        model.to(dev)
        ema.to(dev)
        history = _read_log(out / LOG, start)
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True))
    with open(out / LOG, "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in history)
    new_records: list[dict[str, Any]] = []

    def log(record: dict[str, Any]) -> None:
        history.append(record)
        new_records.append(record)
        with open(out / LOG, "a") as fh:
            fh.write(json.dumps(record) + "\n")

    scale = int(getattr(model, "scale", 1))
    if scale > 1 and (config.degradation.kind not in ("sr", "second_order") or config.degradation.scale != scale):
        raise InvalidParameterError(
            f"[model] upsamples x{scale}: use [degradation] kind 'sr' or 'second_order' with scale = {scale}"
        )
    sampler = PatchSampler(config.data, config.degradation, seed=config.seed, lr_output=scale > 1)
    val = validation_set(config.data, config.degradation, seed=config.seed, lr_output=scale > 1)
    t0 = time.perf_counter()
    window: list[float] = []
    last_loss = math.nan
    val_psnr: float | None = None
    best: float | None = None
    with _Bar(progress, config.steps, start) as bar, _batches(sampler, start, stop, config.workers) as batches:
        for step, batch in zip(range(start, stop), batches, strict=False):
            x = torch.from_numpy(batch.inputs).to(dev).contiguous(memory_format=layout)
            y = torch.from_numpy(batch.targets).to(dev)
            s = torch.from_numpy(batch.sigmas).to(dev)
            with torch.autocast(device_type=dev, dtype=torch.bfloat16, enabled=amp):
                if o.loss == "zero_reference":  # no target: losses on the input and the output
                    loss = zero_reference_loss(model, x, exposure=o.exposure)
                else:
                    pred = _forward(model, x, s, arch)
            if o.loss != "zero_reference":
                loss = _loss(o.loss, pred.float(), y, s, getattr(model, "sigma_data", 0.25))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if o.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip)
            opt.step()
            sched.step()
            decay = min(o.ema_decay, (1.0 + step) / (10.0 + step))
            _update_ema(ema, model, decay)
            window.append(float(loss.detach()))
            done = step + 1
            if time_limit is not None and time.perf_counter() - t0 >= time_limit:
                stop = done  # out of time: this step logs, validates and checkpoints as the last
            if done % config.log_every == 0 or done == stop:
                last_loss = float(np.mean(window))
                log({"step": done, "loss": last_loss, "lr": opt.param_groups[0]["lr"],
                     "seconds": round(time.perf_counter() - t0, 3)})
                window = []
            if val and ((config.val_every and done % config.val_every == 0) or done == stop):
                val_psnr = validate_psnr(ema, val, arch=arch, device=dev)
                best = val_psnr if best is None else max(best, val_psnr)
                log({"step": done, "val_psnr": val_psnr})
            if (config.checkpoint_every and done % config.checkpoint_every == 0) or done == stop:
                _save_checkpoint(out, done, model, ema, opt, sched, config)
            bar.update(done, last_loss if not math.isnan(last_loss) else None, val_psnr)
            if done == stop:
                break
    done = max(start, stop)
    model_path = export_model(ema, config, out / EXPORT)
    plot_history(history, out / PLOT)
    return TrainResult(output=out, model_path=model_path, steps=done, finished=done >= config.steps,
                       loss=last_loss, val_psnr=val_psnr, best_val_psnr=best,
                       seconds=time.perf_counter() - t0, history=new_records)
