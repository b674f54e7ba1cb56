"""The one runner: decode -> choose the method per image -> run it tiled on a device -> encode.

:class:`Restorer` holds *what* runs (a :class:`~restora.options.Choice`) and *how*
(an :class:`~restora.options.Execution`). For each image it chooses the method from the
image itself (channel count, size, JPEG-ness; the default table of :mod:`restora.defaults`
when the caller names no method), estimates the noise level where the method needs one (on
the luma of JPEGs), checks the parameters against what the method takes, runs it in
blended tiles (:mod:`restora.pipeline`) on the requested device, and writes the result
with its metadata. In the automatic mode (task ``auto``) it runs the plan of
:mod:`restora.auto` step by step. Methods are resolved once per (task, channels, scale) and
networks loaded once per process, so one ``Restorer`` serves a whole batch or web worker.

``restora.restore``/``restore_file``, ``restora restore``, ``restora batch`` (local and
Ray), ``restora serve`` and ``restora eval`` all run through it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from restora import auto, zoo
from restora.defaults import pick
from restora.degrade.kernels import check_kernel, parse_kernel
from restora.errors import InvalidParameterError, OutputExistsError, ShapeError
from restora.estimate import estimate_sigma
from restora.io import check_output_path, read_image, to_float32, write_image
from restora.io.image import Photo
from restora.io.jpeg_quality import estimate_jpeg_quality
from restora.methods import get_method, list_methods
from restora.methods.denoisers import load_network
from restora.methods.learned import method_from_model, model_task
from restora.methods.registry import METHOD_TASKS, SIGMA_TASKS, MethodInfo, run_method
from restora.models.inference import cpu_threads
from restora.options import (
    AUTO,
    COMMON_PARAMS,
    DEFAULT_TILE,
    Choice,
    Execution,
    Output,
    Params,
)
from restora.pipeline.tiling import run_tiled
from restora.weights import find_card

Progress = Callable[[int, int], None]
OnPlan = Callable[[auto.Plan], None]

#: The parameters :meth:`Restorer._kwargs` decides about one by one (estimated, loaded,
#: checked against the task); every other :class:`Params` field goes as it is to the
#: methods that take it.
_DECIDED = ("sigma", "scale", "kernel", "quality", "seed", "mask")

#: Floor of a noise level *estimated* on a photo to deblur (8-bit units). In-camera
#: processing and JPEG smooth the noise the estimator sees, while deconvolution still
#: amplifies what is there: on a blurred crop saved as a quality-95 JPEG the estimate is 0.7
#: and plug-and-play at that level gives 14.3 dB (blurred input 25.9 dB); at 2.55, 28.5 dB.
#: 2.55 is the lowest noise of the published deblurring benchmarks. A given sigma is used
#: as given.
DEBLUR_SIGMA_FLOOR = 2.55


@dataclass(frozen=True)
class Report:
    """What ran on one image: ``runs`` (the method, or the automatic plan's steps), the
    ``plan`` in the automatic mode, and the noise level used (8-bit units, given or
    estimated; ``None`` when no step used one)."""

    runs: str
    plan: auto.Plan | None = None
    sigma: float | None = None

    @property
    def decision(self) -> str:
        """One paragraph for people (the web result card)."""
        if self.plan is not None:
            return self.plan.summary
        level = "" if self.sigma is None else f" at sigma {self.sigma:.1f}"
        return f"Ran {self.runs}{level} (chosen by the task and the options given)."


class Restorer:
    """Restore images with one :class:`Choice` and :class:`Execution` (safe to keep per
    worker or process; methods and networks are loaded once).

    Use :meth:`run` on arrays, :meth:`run_photo` on decoded photos and :meth:`run_file` on
    files; :meth:`check` validates the choice before any image is read.
    """

    def __init__(self, choice: Choice | None = None, execution: Execution | None = None) -> None:
        self.choice = Choice() if choice is None else choice
        self.execution = Execution() if execution is None else execution
        self._methods: dict[tuple[Any, ...], tuple[MethodInfo, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    # --- choosing ---------------------------------------------------------------------------

    @property
    def automatic(self) -> bool:
        """True when each image gets the automatic plan (task auto, no method or model)."""
        return self.choice.task == AUTO and self.choice.method is None and self.choice.model is None

    def check(self) -> None:
        """Fail early, before any image: an unknown method, a method that does not do the
        task, a weight file that does not load or does not do the task."""
        choice = self.choice
        if choice.method is not None:
            self._task_of(_method(choice.method))
        elif choice.model is not None:
            model_task(load_network(choice.model, accept_licence=choice.accept_licence),
                       None if choice.task == AUTO else choice.task)

    def _task_of(self, info: MethodInfo) -> str:
        task = self.choice.task
        if task == AUTO:
            return info.task
        if not info.does(task):
            others = ", ".join(m.name for m in list_methods(task=task)) or "none"
            raise InvalidParameterError(
                f"method {info.name!r} does {'/'.join(info.tasks)}, not {task!r}; methods for "
                f"{task!r}: {others}"
            )
        return task

    def method_for(self, task: str | None, *, channels: int, scale: int | None = None,
                   has_kernel: bool = False) -> tuple[MethodInfo, str, dict[str, Any]]:
        """(method, the task it runs, options the default table adds) for an image with
        ``channels`` channels; ``task`` ``None`` = the choice's. Cached per arguments."""
        key = (task, channels, scale, has_kernel)
        with self._lock:
            hit = self._methods.get(key)
        if hit is not None:
            info, extra = hit
            return info, task or self._resolved_task(info), extra
        info, extra = self._resolve(task, channels, scale, has_kernel)
        with self._lock:
            self._methods[key] = (info, extra)
        return info, task or self._resolved_task(info), extra

    def _resolved_task(self, info: MethodInfo) -> str:
        return info.task if self.choice.method is None and self.choice.model is None \
            else self._task_of(info)

    def _resolve(self, task: str | None, channels: int, scale: int | None,
                 has_kernel: bool) -> tuple[MethodInfo, dict[str, Any]]:
        choice = self.choice
        if task is None and choice.method is not None:
            info = _method(choice.method)
            self._task_of(info)
            return info, {}
        if task is None and choice.model is not None:
            model = load_network(choice.model, accept_licence=choice.accept_licence)
            use = None if choice.task == AUTO else choice.task
            return self._network_method(model, use or model.task), {}
        task = task or choice.task
        chosen = pick(task, channels=channels, scale=scale, has_kernel=has_kernel)
        if chosen.method is None:
            model = load_network(chosen.weights)  # type: ignore[arg-type]
            return self._network_method(model, task), {}
        return get_method(chosen.method), dict(chosen.options)

    def _network_method(self, model: Any, task: str) -> MethodInfo:
        card = find_card(model.source.stem)
        shipped = card is not None and card.path == model.source
        luma = (task == "deblock" and model.in_channels == 1) or (shipped and card.luma)
        info = method_from_model(model, task=task if task in METHOD_TASKS else None,
                                 execution=self.execution, luma=luma)
        if shipped:
            return replace(info, name=card.name)  # a shipped set by its name
        entry = zoo.find(model.source.stem)
        if entry is not None and zoo.path_of(entry) == model.source:
            return replace(info, name=entry.name)  # a zoo model by its name
        return info

    # --- running ----------------------------------------------------------------------------

    def run(self, pixels: np.ndarray, params: Params | None = None, *,
            photo: Photo | None = None, progress: Progress | None = None,
            on_plan: OnPlan | None = None) -> tuple[np.ndarray, Report]:
        """Restore HWC float32 [0, 1] ``pixels`` (the input is never modified).

        photo: the decoded file the pixels came from (its JPEG tables and format inform
        the automatic plan and the noise estimate). Returns (HWC float32 result, report).
        """
        params = Params() if params is None else params
        image = to_float32(pixels)
        with cpu_threads(self.execution.threads):
            if self.automatic:
                return self._run_plan(image, params, photo, progress, on_plan)
            channels = image.shape[2]
            info, task, extra = self.method_for(
                None if self.choice.method or self.choice.model else self.choice.task,
                channels=channels, scale=params.scale, has_kernel=params.kernel is not None)
            kwargs = self._kwargs(info, task, image, params, photo, extra)
            out = self._apply(info, image, kwargs, progress)
            return out, Report(runs=_name(info, extra), sigma=kwargs.get("sigma"))

    def _run_plan(self, image: np.ndarray, params: Params, photo: Photo | None,
                  progress: Progress | None, on_plan: OnPlan | None) -> tuple[np.ndarray, Report]:
        given = [n for n, v in (("kernel", params.kernel), ("mask", params.mask),
                                ("option", params.options or None)) if v is not None]
        if given:
            raise InvalidParameterError(
                f"task 'auto' chooses its methods itself and does not deblur or inpaint; it "
                f"takes no {' or '.join(given)}. Drop {', '.join('--' + g for g in given)}, or "
                "name a task (--task deblur | inpaint | denoise ...) to choose yourself"
            )
        plan = auto.plan(photo if photo is not None else image, sigma=params.sigma,
                         scale=params.scale, quality=params.quality)
        if on_plan is not None:
            on_plan(plan)
        out = image
        count = len(plan.steps)
        for i, step in enumerate(plan.steps):
            info, task, extra = self.method_for(step.task, channels=out.shape[2],
                                                scale=step.scale)
            step_params = Params(sigma=step.sigma if "sigma" in info.options else None,
                                 scale=step.scale, quality=step.quality)
            kwargs = self._kwargs(info, task, out, step_params, None, extra)
            out = self._apply(info, out, kwargs,
                              None if progress is None else _step_progress(progress, i, count))
        sigma = next((s.sigma for s in plan.steps if s.sigma is not None), None)
        runs = " -> ".join(f"{s.action} ({s.runs})" for s in plan.steps) or "nothing"
        return out, Report(runs=runs, plan=plan, sigma=sigma)

    def _kwargs(self, info: MethodInfo, task: str, image: np.ndarray, params: Params,
                photo: Photo | None, extra: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of one call: each parameter checked against what the
        method takes (the one place that decides it), missing ones estimated or refused."""
        options = info.options
        kwargs: dict[str, Any] = {}
        # sigma: a fact about the input; estimated where the task is about noise
        if params.sigma is not None:
            if "sigma" not in options:
                raise InvalidParameterError(
                    f"method {info.name!r} takes no noise level; drop --sigma (it runs blind)")
            kwargs["sigma"] = params.sigma
        elif info.needs_sigma and "sigma" in options and task in SIGMA_TASKS:
            jpeg = photo is not None and photo.format == "JPEG"
            sigma = min(estimate_sigma(image, luma_only=jpeg), auto.SIGMA_MAX)  # chroma may be subsampled
            kwargs["sigma"] = max(sigma, DEBLUR_SIGMA_FLOOR) if task == "deblur" else sigma
        # scale: what the output size must be
        if task == "upscale":
            if params.scale is None and len(info.scales) == 1:  # a network of one scale
                params = replace(params, scale=info.scales[0])
            if params.scale is None:
                raise InvalidParameterError(
                    f"method {info.name!r} upscales: give scale (e.g. --scale 2 or 4)")
            if info.scales and params.scale not in info.scales:
                raise InvalidParameterError(
                    f"method {info.name!r} upscales x{'/x'.join(map(str, info.scales))}; got "
                    f"scale {params.scale}")
            if "scale" in options:
                kwargs["scale"] = params.scale
        elif params.scale is not None:
            raise InvalidParameterError(
                f"scale applies to upscaling (and the automatic mode), not to {task!r}")
        # kernel: the blur the image went through
        if params.kernel is not None:
            if "kernel" not in options:
                raise InvalidParameterError(
                    f"method {info.name!r} takes no blur kernel; drop --kernel")
            kwargs["kernel"] = load_kernel(params.kernel, method=info.name)
        elif info.needs_kernel or (task == "deblur" and "kernel" in options):
            raise InvalidParameterError(
                f"{task} with {info.name!r} needs the blur kernel: give --kernel "
                "(e.g. 'gauss:2.0', 'motion:15,30' or a .npy/.png file)")
        # quality / seed: used by the methods that take them, ignored by the others
        if "quality" in options:
            quality = params.quality
            if quality is None and photo is not None:
                quality = estimate_jpeg_quality(photo)
            kwargs["quality"] = quality
        if "seed" in options and params.seed is not None:
            kwargs["seed"] = params.seed
        # mask: the pixels to fill
        if params.mask is not None:
            if "mask" not in options:
                raise InvalidParameterError(f"method {info.name!r} takes no mask; drop --mask")
            kwargs["mask"] = load_mask(params.mask, image.shape[:2])
        elif task == "inpaint":
            raise InvalidParameterError(
                "inpainting needs a mask: give --mask MASK.png (white = pixels to fill)")
        # any other parameter: to the methods that take it, refused by the others
        for name in COMMON_PARAMS:
            value = getattr(params, name)
            if name in _DECIDED or value is None:
                continue
            if name not in options:
                raise InvalidParameterError(
                    f"method {info.name!r} takes no {name}; drop --{name.replace('_', '-')}")
            kwargs[name] = value
        # the method's own options
        unknown = sorted(k for k in params.options if k not in info.own_options)
        if unknown:
            raise InvalidParameterError(
                f"method {info.name!r} has no option {', '.join(unknown)}; its own options "
                f"are: {', '.join(info.own_options) or 'none'}")
        kwargs.update(extra)
        kwargs.update(params.options)
        if "task" in info.context:
            kwargs["task"] = task
        if "execution" in info.context:
            kwargs["execution"] = self.execution
        return kwargs

    def _apply(self, info: MethodInfo, image: np.ndarray, kwargs: dict[str, Any],
               progress: Progress | None) -> np.ndarray:
        """Run ``info`` on HWC float32 ``image`` in blended tiles (networks: batched, on the
        device); methods whose ``halo`` is -1 see the whole image."""
        if image.shape[2] not in info.channels:
            raise ShapeError(
                f"method {info.name!r} takes images with {' or '.join(map(str, info.channels))} "
                f"channel(s); this one has {image.shape[2]}")
        execution = self.execution
        runner = info.runner
        tile = execution.tile
        overlap = execution.overlap if info.halo < 0 else max(execution.overlap, 4 * info.halo)
        if tile == AUTO:
            h, w = image.shape[:2]
            tile = DEFAULT_TILE if runner is None else runner.tile_for(h, w, overlap=overlap)
        if info.halo < 0:
            tile = None
        batch = execution.batch if runner is not None else 1  # networks take NHWC stacks
        scale = int(kwargs["scale"]) if "scale" in kwargs and info.does("upscale") else 1

        def fn(tile_pixels: np.ndarray) -> np.ndarray:
            return run_method(info, tile_pixels, **kwargs)

        return run_tiled(fn, image, tile=tile, overlap=overlap, scale=scale,
                         multiple=1 if runner is None else runner.model.size_multiple,
                         progress=progress, batch=batch)

    def run_photo(self, photo: Photo, params: Params | None = None, *,
                  progress: Progress | None = None,
                  on_plan: OnPlan | None = None) -> tuple[Photo, Report]:
        """Restore a decoded photo; alpha and metadata are carried (alpha resized when
        upscaling)."""
        pixels, report = self.run(photo.pixels, params, photo=photo, progress=progress,
                                  on_plan=on_plan)
        return photo.with_pixels(pixels), report

    def run_file(self, source: str | Path, target: str | Path, params: Params | None = None,
                 output: Output | None = None, *, progress: Progress | None = None,
                 on_plan: OnPlan | None = None) -> tuple[Path, Report]:
        """Decode ``source``, restore it and write ``target`` atomically (EXIF orientation
        reset, ICC and XMP kept where the format allows; the input's bit depth unless
        ``output.bit_depth``). Refuses to replace an existing file (the input included)
        unless ``output.overwrite``: the rule of every entry point."""
        output = Output() if output is None else output
        check_output_path(target, inputs=[source], overwrite=output.overwrite)
        path = Path(target)
        if not output.overwrite and (path.exists() or path.is_symlink()):
            raise OutputExistsError(path, "already exists; pass --overwrite (overwrite=True) "
                                          "to replace it")
        photo = read_image(source, max_pixels=self.execution.max_pixels)
        restored, report = self.run_photo(photo, params, progress=progress, on_plan=on_plan)
        path = write_image(restored, target, bit_depth=output.bit_depth,
                           quality=output.jpeg_quality, overwrite=output.overwrite,
                           inputs=[source])
        return path, report


# --- parameters that name files ------------------------------------------------------------


def load_kernel(kernel: Any, *, method: str) -> np.ndarray:
    """A blur kernel from a spec string, a file or an array, checked and normalised."""
    if isinstance(kernel, str | Path):
        kernel = parse_kernel(str(kernel))
    return check_kernel(kernel, method=method)


def load_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    """An inpainting mask as HW bool (True = pixels to fill) from an image file (white =
    fill; any channel above half) or an HW array (nonzero = fill) of the image's size."""
    if isinstance(mask, str | Path):
        photo = read_image(mask)
        m = photo.pixels.max(axis=2) > 0.5
        source = str(mask)
    else:
        m = np.asarray(mask)
        m = m[:, :, 0] if m.ndim == 3 and m.shape[2] == 1 else m
        if m.ndim != 2:
            raise ShapeError(f"mask: expected an HW array, got shape {np.shape(mask)}")
        m = m > (0.5 if np.issubdtype(m.dtype, np.floating) else 0)
        source = "mask"
    if m.shape != tuple(shape):
        raise ShapeError(
            f"{source}: the mask is {m.shape[1]}x{m.shape[0]} pixels but the image is "
            f"{shape[1]}x{shape[0]}; give a mask of the same size")
    return m


def _method(method: str | MethodInfo) -> MethodInfo:
    return get_method(method) if isinstance(method, str) else method


def _name(info: MethodInfo, extra: dict[str, Any]) -> str:
    """What ran, for people: the method with the options the default table gave it."""
    return info.name + "".join(f" ({k} {v})" for k, v in extra.items())


def _step_progress(progress: Progress, index: int, count: int) -> Progress:
    """Map one step's ``(done, total)`` onto the whole plan (1000 units per step)."""

    def update(done: int, total: int) -> None:
        progress(index * 1000 + int(1000 * done / max(total, 1)), count * 1000)

    return update


__all__ = ["DEBLUR_SIGMA_FLOOR", "Report", "Restorer", "load_kernel", "load_mask"]
