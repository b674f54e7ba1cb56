"""Evaluate a method on a dataset folder with a named, paper-exact protocol.

Degradations follow the papers:

* denoise: clean = 8-bit image / 255; noisy = clean + N(0, (sigma/255)^2), not clipped,
  seeded per image (``seed + index`` in sorted file order); PSNR/SSIM on all channels.
* upscale: HR cropped to a multiple of ``scale``; LR = MATLAB-bicubic ``imresize(HR, 1/scale)``
  on the uint8 HR (rounded after each pass, as MATLAB does); PSNR/SSIM on the Y channel, crop = scale.
* deblock: JPEG of the 8-bit image at ``quality`` (Pillow/libjpeg, 4:2:0 for colour); PSNR
  on all channels.
* deblur: clean blurred by ``kernel`` (circular boundary) + Gaussian noise ``sigma``.

Every output is clipped to [0, 1] and quantised to the dataset's bit depth before scoring.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

import restora
from restora import degrade
from restora.bench.published import published_for
from restora.errors import DatasetError, ImageError, InvalidParameterError
from restora.io import from_float32, image_info, list_images, read_image
from restora.io.atomic import atomic_write_text
from restora.methods.registry import MethodInfo
from restora.metrics import get_protocol, psnr, ssim
from restora.options import AUTO, Choice, Execution, Params, Request
from restora.run import Restorer, load_kernel

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImageScore:
    name: str
    psnr: float
    ssim: float
    seconds: float
    megapixels: float


@dataclass
class Evaluation:
    """Per-image and mean scores of one method on one dataset under one protocol."""

    method: str
    dataset: str
    task: str
    protocol: str
    level: int | None  # sigma (denoise/deblur), scale (upscale) or quality (deblock)
    seed: int
    images: list[ImageScore] = field(default_factory=list)
    published: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # unreadable file -> the problem

    @property
    def mean_psnr(self) -> float:
        return float(np.mean([s.psnr for s in self.images]))

    @property
    def mean_ssim(self) -> float:
        return float(np.mean([s.ssim for s in self.images]))

    @property
    def sec_per_mp(self) -> float:
        seconds = sum(s.seconds for s in self.images)
        return seconds / max(sum(s.megapixels for s in self.images), 1e-12)

    def to_dict(self) -> dict:
        """Stable JSON shape: ``mean``, ``images``, ``protocol`` and the run's settings."""
        return {
            "mean": {"psnr": self.mean_psnr, "ssim": self.mean_ssim, "sec_per_mp": self.sec_per_mp},
            "images": [{"name": s.name, "psnr": s.psnr, "ssim": s.ssim, "seconds": s.seconds}
                       for s in self.images],
            "protocol": self.protocol,
            "method": self.method,
            "dataset": self.dataset,
            "task": self.task,
            "level": self.level,
            "seed": self.seed,
            "published": self.published,
            "skipped": self.skipped,
            "restora_version": restora.__version__,
        }

    def to_json(self, path: str | Path) -> Path:
        return atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    def to_markdown(self, *, per_image: bool = True) -> str:
        """A Markdown report: per-image table, mean, and published numbers side by side."""
        level = {"denoise": "sigma", "deblur": "sigma", "upscale": "x", "deblock": "q"}[self.task]
        title = f"{self.method} on {self.dataset}, {self.task} {level}={self.level}"
        lines = [f"### {title} (protocol: {self.protocol}, seed {self.seed})", ""]
        if per_image:
            lines += ["| image | PSNR (dB) | SSIM | seconds |", "|---|---|---|---|"]
            lines += [f"| {s.name} | {s.psnr:.2f} | {s.ssim:.4f} | {s.seconds:.3f} |"
                      for s in self.images]
            lines += [f"| **mean** | **{self.mean_psnr:.2f}** | **{self.mean_ssim:.4f}** | "
                      f"{self.sec_per_mp:.3f} s/MP |", ""]
        else:
            lines += [f"mean PSNR {self.mean_psnr:.2f} dB, SSIM {self.mean_ssim:.4f}, "
                      f"{self.sec_per_mp:.3f} s/MP over {len(self.images)} images", ""]
        if self.skipped:
            problems = "; ".join(f"{k}: {v}" for k, v in self.skipped.items())
            lines += [f"skipped {len(self.skipped)} unreadable file(s) (not in the mean): {problems}", ""]
        if self.published:
            lines += ["| published | PSNR (dB) | this run - published |", "|---|---|---|"]
            lines += [f"| {m} | {v:.2f} | {self.mean_psnr - v:+.2f} |"
                      for m, v in self.published.items()]
            lines.append("")
        return "\n".join(lines)


def list_dataset(dataset: str | Path) -> list[Path]:
    """Image files of a dataset folder, sorted by name (the order seeds follow)."""
    return list_images(dataset, role="dataset")


def degrade_for_protocol(
    clean: np.ndarray,
    *,
    task: str,
    index: int,
    seed: int,
    sigma: float | None,
    scale: int | None,
    quality: int | None,
    kernel: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(reference, degraded)`` for one clean HWC float32 image under the protocol."""
    if task == "denoise":
        return clean, degrade.add_gaussian_noise(clean, sigma, seed=seed + index)
    if task == "upscale":
        h, w = clean.shape[:2]
        hr = clean[: h - h % scale, : w - w % scale]
        # uint8 in, as MATLAB: imresize rounds after each pass (bit-exact with MATLAB's LR).
        lr = degrade.imresize(np.rint(hr * 255.0).astype(np.uint8), 1.0 / scale)
        return hr, lr.astype(np.float32) / 255.0
    if task == "deblock":
        return clean, degrade.jpeg_compress(clean, quality)
    if task == "deblur":
        blurred = degrade.blur(clean, kernel, boundary="circular").astype(np.float32)
        return clean, degrade.add_gaussian_noise(blurred, sigma or 0.0, seed=seed + index)
    raise InvalidParameterError(f"unknown task {task!r}: use denoise, upscale, deblock or deblur")


def evaluate(
    method: str | MethodInfo | None,
    dataset: str | Path,
    *,
    protocol: str = "paper",
    seed: int = 0,
    limit: int | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> Evaluation:
    """Score ``method`` on every image of ``dataset`` under the named ``protocol``.

    method: a registered method name or :class:`~restora.methods.registry.MethodInfo`;
        ``None``: the ``model`` option, or the default for the task and each image.
    options: the request's fields (:mod:`restora.options`): ``task``, ``model``, ``sigma``
        (noise std in 8-bit units for denoise/deblur: the degradation's, given to the method
        as well (non-blind), as in the papers' tables), ``scale``, ``quality``, ``kernel``,
        ``device``, ``tile`` (default ``None``: whole images) ...
    seed: base seed of the degradation; image i uses ``seed + i``.
    Returns per-image PSNR/SSIM (dB / [0,1]), seconds and the mean, with the published numbers
    for this dataset, task and level when known.
    """
    if method is not None:
        options["method"] = method
    options.setdefault("tile", None)
    request = Request.from_mapping(options, source="evaluate")
    return evaluate_request(dataset, choice=request.choice, params=request.params,
                            execution=request.execution, protocol=protocol, seed=seed,
                            limit=limit, progress=progress)


def evaluate_request(
    dataset: str | Path,
    *,
    choice: Choice,
    params: Params,
    execution: Execution,
    protocol: str = "paper",
    seed: int = 0,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """:func:`evaluate` for the parts of a request (what ``restora eval`` runs): each image
    is degraded by the protocol and restored by :class:`restora.run.Restorer`."""
    files = list_dataset(dataset)[:limit]
    restorer = Restorer(choice, execution)
    restorer.check()
    explicit = choice.method is not None or choice.model is not None
    if choice.task == AUTO and not explicit:
        raise InvalidParameterError(
            "task 'auto' chooses its methods per image; to evaluate, name the task (--task "
            "denoise | upscale | deblock | deblur) and optionally a method or a model")
    first = _first_channels(files)
    info, task, _ = restorer.method_for(None if explicit else choice.task, channels=first,
                                        scale=params.scale)
    level = {"denoise": params.sigma, "deblur": params.sigma, "upscale": params.scale,
             "deblock": params.quality}.get(task)
    if level is None and task != "deblur":
        need = {"denoise": "sigma", "upscale": "scale", "deblock": "quality"}.get(task, "a level")
        raise InvalidParameterError(f"evaluating {task!r} needs {need}")
    kernel = None if params.kernel is None else load_kernel(params.kernel, method=info.name)
    rule = get_protocol(protocol, task=task, scale=params.scale or 1)
    name = Path(dataset).name
    result = Evaluation(method=info.name, dataset=name, task=task, protocol=rule.name,
                        level=None if level is None else int(level), seed=seed,
                        published=published_for(name, task, int(level)) if level else {})
    for index, path in enumerate(files):  # image i keeps seed + i even when others are skipped
        try:
            photo = read_image(path)
        except ImageError as exc:
            result.skipped[path.name] = exc.problem
            warnings.warn(f"{path}: skipped, {exc.problem}", stacklevel=2)
            continue
        depth = np.uint16 if photo.bit_depth == 16 else np.uint8
        reference, degraded = degrade_for_protocol(
            photo.pixels, task=task, index=index, seed=seed, sigma=params.sigma,
            scale=params.scale, quality=params.quality, kernel=kernel)
        info, _, _ = restorer.method_for(None if explicit else task,
                                         channels=photo.pixels.shape[2], scale=params.scale)
        # Protocol levels reach the method only where it takes them (a per-sigma DnCNN takes none).
        given = replace(params, sigma=params.sigma if "sigma" in info.options else None,
                        kernel=kernel if "kernel" in info.options else None)
        start = time.perf_counter()
        output, _ = restorer.run(degraded.astype(np.float32), given)
        seconds = time.perf_counter() - start
        output = from_float32(np.clip(output, 0.0, 1.0), depth)
        kw = dict(crop_border=rule.crop_border, y_channel=rule.y_channel, y_rounding=rule.y_rounding)
        result.images.append(ImageScore(
            name=path.stem, psnr=psnr(reference, output, **kw), ssim=ssim(reference, output, **kw),
            seconds=seconds, megapixels=output.shape[0] * output.shape[1] / 1e6))
        if progress is not None:
            progress(index + 1, len(files))
    if not result.images:
        raise DatasetError(f"{dataset}: no readable images ({len(result.skipped)} unreadable)")
    return result


def _first_channels(files: list[Path]) -> int:
    """Colour channels of the first readable image (3 when none is)."""
    for path in files:
        try:
            return _colour_channels(path)
        except ImageError:
            continue
    return 3


def _colour_channels(path: Path) -> int:
    """Colour channels of an image (alpha not counted), from its header alone."""
    facts = image_info(path)
    return int(facts["channels"]) - int(facts["has_alpha"])
