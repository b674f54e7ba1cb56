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

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from restora import auto, zoo
from restora.defaults import pick
from restora.degrade.kernels import check_kernel, parse_kernel
from restora.errors import InvalidParameterError, OutputExistsError, ShapeError
from restora.estimate import estimate_sigma
from restora.frames.burst import merge_burst
from restora.frames.fuse import exposure_time, fuse_exposures
from restora.io import (
    check_output_path,
    raw_develop,
    read_image,
    to_float32,
    write_image,
)
from restora.io.bridge import from_float32
from restora.io.image import Photo
from restora.io.jpeg_quality import estimate_jpeg_quality
from restora.io.radiance import check_radiance_path, write_radiance
from restora.io.write import output_bit_depth
from restora.methods import get_method, list_methods
from restora.methods.denoisers import load_network
from restora.methods.learned import method_from_model, model_task
from restora.methods.registry import (
    METHOD_TASKS,
    SIGMA_TASKS,
    MethodInfo,
    run_method,
    tiling_for,
)
from restora.models.inference import cpu_threads, resolve_device
from restora.options import (
    AUTO,
    COMMON_PARAMS,
    Choice,
    Execution,
    Frames,
    Output,
    Params,
)
from restora.pipeline.tiling import run_tiled, stream_tiled
from restora.weights import find_card

Progress = Callable[[int, int], None]
OnPlan = Callable[[auto.Plan], None]

#: The parameters :meth:`Restorer._kwargs` decides about one by one (estimated, loaded,
#: checked against the task); every other :class:`Params` field goes as it is to the
#: methods that take it.
_DECIDED = ("sigma", "scale", "kernel", "quality", "seed", "mask", "strength")

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


@dataclass(frozen=True)
class FramesReport(Report):
    """What :meth:`Restorer.run_frames` did: ``runs`` and ``summary`` for people, the
    ``reference`` frame (index), the number of ``frames``, the noise level handed to the
    denoiser (``sigma``, bursts), the exposure ``times`` used and where they came from, and
    the HDR ``radiance`` map (HWC float32, relative units) when an HDR merge ran."""

    reference: int = 0
    frames: int = 0
    times: tuple[float, ...] | None = None
    summary: str = ""
    radiance: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def decision(self) -> str:
        return self.summary or super().decision


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
        self._denoiser: Restorer | None = None  # bursts: the choice with task denoise

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

    def gpu(self) -> str | None:
        """The GPU this request's networks run on (``cuda``, ``cuda:N``, ``mps``), or ``None``
        when they run on the CPU or the chosen method runs no network."""
        choice = self.choice
        if choice.method is not None and not _method(choice.method).uses_network:
            return None
        device = resolve_device(self.execution.device)
        return None if device == "cpu" else device

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
                   has_kernel: bool = False, noise: str = "white",
                   ) -> tuple[MethodInfo, str, dict[str, Any]]:
        """(method, the task it runs, options the default table adds) for an image with
        ``channels`` channels; ``task`` ``None`` = the choice's; ``noise`` ``"camera"``: the
        default for real camera noise (:func:`restora.auto.read_noise`). Cached per
        arguments."""
        key = (task, channels, scale, has_kernel, noise)
        with self._lock:
            hit = self._methods.get(key)
        if hit is not None:
            info, extra = hit
            return info, task or self._resolved_task(info), extra
        info, extra = self._resolve(task, channels, scale, has_kernel, noise)
        with self._lock:
            self._methods[key] = (info, extra)
        return info, task or self._resolved_task(info), extra

    def _resolved_task(self, info: MethodInfo) -> str:
        return info.task if self.choice.method is None and self.choice.model is None \
            else self._task_of(info)

    def _resolve(self, task: str | None, channels: int, scale: int | None,
                 has_kernel: bool, noise: str = "white") -> tuple[MethodInfo, dict[str, Any]]:
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
        chosen = pick(task, channels=channels, scale=scale, has_kernel=has_kernel, noise=noise)
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
            info, task, extra, params = self._choose(image, params, photo)
            kwargs = self._kwargs(info, task, image, params, photo, extra)
            out = self._apply(info, image, kwargs, progress)
            if params.strength is not None and "strength" not in kwargs:
                out = blend(image, out, params.strength)
            return out, Report(runs=_name(info, extra), sigma=kwargs.get("sigma"))

    def _choose(self, image: np.ndarray, params: Params, photo: Photo | None
                ) -> tuple[MethodInfo, str, dict[str, Any], Params]:
        """The method of a named-task run on ``image`` (HWC, float or the file's samples):
        (method, task, table options, params with the camera-noise sigma where the default
        noise-map model runs on camera noise)."""
        noise, camera_sigma = self._noise(image, params, photo)
        info, task, extra = self.method_for(
            None if self.choice.method or self.choice.model else self.choice.task,
            channels=image.shape[2], scale=params.scale, has_kernel=params.kernel is not None,
            noise=noise)
        if camera_sigma is not None and info.needs_sigma and "sigma" in info.options:
            params = replace(params, sigma=camera_sigma)
        return info, task, extra, params

    def _noise(self, image: np.ndarray, params: Params,
               photo: Photo | None) -> tuple[str, float | None]:
        """``(noise kind, sigma)`` the default table chooses by: ``("camera", sigma)`` when
        the task is ``denoise`` with no method, model or sigma given and the colour photo
        carries real camera noise (:func:`restora.auto.read_noise`, as the automatic mode
        decides; sigma: :func:`restora.auto.camera_sigma`, for a noise-map model), else
        ``("white", None)`` (the noise-map model at the estimated or given sigma)."""
        choice = self.choice
        if (choice.task != "denoise" or choice.method is not None or choice.model is not None
                or params.sigma is not None or image.shape[2] != 3):
            return "white", None
        jpeg = photo is not None and photo.format == "JPEG"
        reading = auto.read_noise(image, jpeg=jpeg)
        if reading.kind != "camera" or reading.camera is None:
            return "white", None
        return "camera", auto.camera_sigma(reading.camera)

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
                                                scale=step.scale, noise=step.noise)
            step_params = Params(sigma=step.sigma if "sigma" in info.options else None,
                                 scale=step.scale, quality=step.quality,
                                 strength=params.strength if "strength" in info.options else None)
            kwargs = self._kwargs(info, task, out, step_params, None, extra)
            result = self._apply(info, out, kwargs,
                                 None if progress is None else _step_progress(progress, i, count))
            weight = step.strength * (1.0 if params.strength is None or "strength" in info.options
                                      or step.task != "denoise" else params.strength)
            out = result if weight >= 1.0 else blend(out, result, weight)
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
        # strength: the method's own where it has one, else the runner blends the result
        if params.strength is not None:
            if "strength" in options:
                kwargs["strength"] = params.strength
            elif task not in BLEND_TASKS:
                raise InvalidParameterError(
                    f"strength blends a {'/'.join(BLEND_TASKS)} result with its input; it does "
                    f"not apply to {task!r}")
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
        runner = info.runner
        if runner is None or not runner.tiles_on_device:
            fn, tiling = self._tiling(info, image, kwargs)
            return run_tiled(fn, image, progress=progress, **tiling)
        result: list[np.ndarray] = []

        def sink(y0: int, rows: np.ndarray) -> None:
            if not result:
                scale = rows.shape[1] // image.shape[1]
                result.append(np.empty((image.shape[0] * scale,) + rows.shape[1:], np.float32))
            result[0][y0 : y0 + len(rows)] = rows

        self._stream(info, image, kwargs, progress, sink)
        return result[0]

    def _stream(self, info: MethodInfo, image: np.ndarray, kwargs: dict[str, Any],
                progress: Progress | None, sink: Callable[[int, np.ndarray], None],
                out_dtype: Any = None) -> None:
        """:meth:`_apply` with the result's rows handed to ``sink`` top to bottom as they are
        finished (:func:`~restora.pipeline.stream_tiled`); ``image`` may be 8/16-bit samples.
        A network on a GPU keeps its tiles there (``stream_tiled(..., device=...)``): the
        input's samples go up once per row of tiles, finished rows come down (as samples of
        ``out_dtype`` where given: quantised there)."""
        fn, tiling = self._tiling(info, image, kwargs)
        runner = info.runner
        if runner is not None and runner.tiles_on_device:
            given = {k: v for k, v in kwargs.items() if k in ("sigma", "scale") and v is not None}
            stream_tiled(runner.tensor_fn(**given), image, sink=sink, progress=progress,
                         device=runner.device, out_dtype=out_dtype, **tiling)
            return
        stream_tiled(fn, image, sink=sink, progress=progress, out_dtype=out_dtype, **tiling)

    def _tiling(self, info: MethodInfo, image: np.ndarray,
                kwargs: dict[str, Any]) -> tuple[Callable[[np.ndarray], np.ndarray], dict[str, Any]]:
        """The tile function and the tiling (tile, overlap, scale, multiple, batch) of one run."""
        if image.shape[2] not in info.channels:
            raise ShapeError(
                f"method {info.name!r} takes images with {' or '.join(map(str, info.channels))} "
                f"channel(s); this one has {image.shape[2]}")
        scale = int(kwargs["scale"]) if "scale" in kwargs and info.does("upscale") else 1

        def fn(tile_pixels: np.ndarray) -> np.ndarray:
            return run_method(info, tile_pixels, **kwargs)

        return fn, tiling_for(info, self.execution, *image.shape[:2], scale=scale)

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
        unless ``output.overwrite``: the rule of every entry point. Camera RAW files are
        developed as ``params.raw_develop`` says (:meth:`_run_raw`; 16-bit, EXIF kept)."""
        output = Output() if output is None else output
        check_output_path(target, inputs=[source], overwrite=output.overwrite)
        path = Path(target)
        if not output.overwrite and (path.exists() or path.is_symlink()):
            raise OutputExistsError(path, "already exists; pass --overwrite (overwrite=True) "
                                          "to replace it")
        params = Params() if params is None else params
        if params.raw_develop != "libraw" and raw_develop.is_raw(source):
            restored, report = self._run_raw(source, params, progress, on_plan)
        elif not self.automatic and params.strength is None:
            # one method: from the file's samples to the file's, by rows
            restored, report = self._stream_file(source, path, params, output, progress)
        else:
            photo = read_image(source, max_pixels=self.execution.max_pixels)
            restored, report = self.run_photo(photo, params, progress=progress, on_plan=on_plan)
        path = write_image(restored, target, bit_depth=output.bit_depth,
                           quality=output.jpeg_quality, overwrite=output.overwrite,
                           inputs=[source])
        return path, report

    def run_samples(self, samples: np.ndarray, params: Params | None = None, *,
                    photo: Photo | None = None, progress: Progress | None = None,
                    dtype: Any = None) -> tuple[np.ndarray, Report]:
        """:meth:`run` on HWC 8/16-bit ``samples`` in bounded memory: tiles become float32
        one at a time (with a GPU, on the device, where the samples go up as they are), and
        each finished band of result rows is quantised straight into the result's samples of
        ``dtype`` (the input's by default; ``numpy.float32``: [0, 1] floats, unclipped). Same
        values as :func:`~restora.io.from_float32` of :meth:`run`'s result, without a float
        copy of the image in or out. One method: not the automatic mode, no ``strength``."""
        if self.automatic or (params is not None and params.strength is not None):
            raise InvalidParameterError("run_samples runs one method: not the automatic mode, "
                                        "no strength; use run()")
        params = Params() if params is None else params
        dtype = np.dtype(samples.dtype if dtype is None else dtype)
        info, task, extra, params = self._choose(samples, params, photo)
        height, width = samples.shape[:2]
        result: list[np.ndarray] = []

        def sink(y0: int, rows: np.ndarray) -> None:  # rows: already quantised to dtype
            if not result:  # the first rows tell the scale and the output channels
                scale = rows.shape[1] // width
                result.append(np.empty((height * scale,) + rows.shape[1:], dtype))
            result[0][y0 : y0 + len(rows)] = rows

        with cpu_threads(self.execution.threads):
            kwargs = self._kwargs(info, task, samples, params, photo, extra)
            self._stream(info, samples, kwargs, progress, sink,
                         out_dtype=None if dtype == np.float32 else dtype)
        return result[0], Report(runs=_name(info, extra), sigma=kwargs.get("sigma"))

    def _stream_file(self, source: str | Path, target: Path, params: Params, output: Output,
                     progress: Progress | None) -> tuple[Photo, Report]:
        """:meth:`run_photo` in bounded memory, for a file (:meth:`run_samples` on the
        decoded 8/16-bit samples, quantised into the output file's). A 100-megapixel RGB
        photo needs its 300 MB of input and output samples and one tile row of float32,
        where floats in and out would take 2.4 GB. Same values as :meth:`run_photo` then
        :func:`write_image`."""
        photo = read_image(source, max_pixels=self.execution.max_pixels, samples=True)
        depth = output_bit_depth(target, photo.bit_depth, output.bit_depth)
        dtype = np.float32 if depth == 32 else np.uint8 if depth == 8 else np.uint16
        pixels, report = self.run_samples(photo.pixels, params, photo=photo, progress=progress,
                                          dtype=dtype)
        alpha = photo.alpha
        if alpha is not None and (alpha.dtype != dtype or alpha.shape[:2] != pixels.shape[:2]):
            floats = replace(photo, alpha=to_float32(alpha)).with_pixels(pixels).alpha  # resized
            assert floats is not None
            alpha = floats if depth == 32 else from_float32(floats, dtype)
        return replace(photo, pixels=pixels, alpha=alpha, bit_depth=depth), report

    # --- camera RAW -------------------------------------------------------------------------

    def _run_raw(self, source: str | Path, params: Params, progress: Progress | None,
                 on_plan: OnPlan | None) -> tuple[Photo, Report]:
        """Develop a Bayer RAW file with :mod:`restora.io.raw_develop`; with ``raw_develop
        = "denoise"`` its CFA planes are first denoised in the linear domain by
        :meth:`_raw_denoiser`. The request then runs on the developed photo: nothing more
        when that denoising was its task (``denoise``), the automatic plan without
        denoising (sigma 0), any other task as usual. Sensors without a Bayer mosaic
        (X-Trans, Foveon, linear DNG) take LibRaw's rendering."""
        try:
            raw = raw_develop.read_raw(source, max_pixels=self.execution.max_pixels)
        except raw_develop.NotBayerError:
            photo = read_image(source, max_pixels=self.execution.max_pixels)
            return self.run_photo(photo, params, progress=progress, on_plan=on_plan)
        denoiser = self._raw_denoiser() if params.raw_develop == "denoise" else None
        if denoiser is None:
            development = raw_develop.develop_raw(raw)
            return self.run_photo(development.photo, params, progress=progress, on_plan=on_plan)
        info, extra, finished = denoiser
        with cpu_threads(self.execution.threads):
            development = raw_develop.develop_raw(
                raw, denoise=self._plane_denoiser(info, extra, progress))
        done = development.describe(_name(info, extra))  # the sigma it saw is in the text
        if finished:
            return development.photo, Report(runs=done)
        if not self.automatic:
            restored, report = self.run_photo(development.photo, params, progress=progress,
                                              on_plan=on_plan)
            return restored, replace(report, runs=f"{done}; then {report.runs}")

        def with_raw(plan: auto.Plan) -> auto.Plan:
            first = f"Camera RAW: {done}; the developed photo is not denoised again."
            return replace(plan, decisions=(first, *plan.decisions))

        restored, report = self.run_photo(
            development.photo, replace(params, sigma=0.0), progress=progress,
            on_plan=None if on_plan is None else lambda plan: on_plan(with_raw(plan)))
        runs = done if report.runs == "nothing" else f"{done}; then {report.runs}"
        plan = None if report.plan is None else with_raw(report.plan)
        return restored, Report(runs=runs, plan=plan)

    def _raw_denoiser(self) -> tuple[MethodInfo, dict[str, Any], bool] | None:
        """(denoiser of a RAW file's CFA planes, the options the default table gives it,
        whether it is the whole task): the request's own method or model when it denoises
        gray images, else the default table's gray denoiser. None when the request's
        denoiser takes colour images only: it then runs on the developed photo."""
        if self.choice.method is not None or self.choice.model is not None:
            info, task, extra = self.method_for(None, channels=1)
            if task == "denoise":
                return (info, extra, True) if 1 in info.channels else None
        info, _, extra = self.method_for("denoise", channels=1)
        return info, extra, self.choice.task == "denoise"

    def _plane_denoiser(self, info: MethodInfo, extra: dict[str, Any],
                        progress: Progress | None) -> raw_develop.PlaneDenoiser:
        """``denoise(plane, sigma)`` for :func:`restora.io.raw_develop.denoise_mosaic`: runs
        ``info`` tiled on one HW1 plane (sigma given to methods that take one); progress
        over the four planes."""
        planes = iter(range(4))

        def denoise(plane: np.ndarray, sigma: float) -> np.ndarray:
            step = Params(sigma=min(sigma, 255.0) if "sigma" in info.options else None)
            kwargs = self._kwargs(info, "denoise", plane, step, None, extra)
            index = next(planes, 3)
            return self._apply(info, plane, kwargs,
                               None if progress is None else _step_progress(progress, index, 4))

        return denoise


    # --- several frames of one scene --------------------------------------------------------

    def run_frames(self, photos: Sequence[Photo], frames: Frames, params: Params | None = None,
                   *, progress: Progress | None = None) -> tuple[Photo, FramesReport]:
        """Merge decoded photos of one scene into one (:mod:`restora.frames`): exposure
        brackets (``frames.merge`` fuse | mertens | debevec | robertson) are aligned,
        de-ghosted and fused, or merged to radiance (``report.radiance``) and tone-mapped; a
        burst (burst | wiener | mean) is aligned, merged, and denoised at its lowered noise
        level by this restorer's choice (task denoise). The result keeps the reference
        frame's metadata, alpha and bit depth. ``params.sigma``: the noise of one frame
        (8-bit units); ``None``: a burst measures it on its aligned frames
        (:func:`restora.frames.burst.burst_noise`), fuse estimates it on the middle frame.
        """
        params = Params() if params is None else params
        if frames.kind is None:
            raise InvalidParameterError(
                "give merge (fuse | mertens | debevec | robertson | burst | wiener | mean) to "
                "merge several frames into one")
        pixels = _check_frames(photos)
        if frames.reference is not None and frames.reference >= len(photos):
            raise InvalidParameterError(
                f"reference {frames.reference}: there are {len(photos)} frames, numbered 0 to "
                f"{len(photos) - 1}")
        with cpu_threads(self.execution.threads):
            if frames.kind == "fuse":
                out, report = self._fuse(photos, pixels, frames, params, progress)
            else:
                out, report = self._burst(photos, pixels, frames, params, progress)
        return photos[report.reference].with_pixels(out), report

    def _fuse(self, photos: Sequence[Photo], pixels: list[np.ndarray], frames: Frames,
              params: Params, progress: Progress | None) -> tuple[np.ndarray, FramesReport]:
        choice = self.choice
        if choice.task != AUTO or choice.method is not None or choice.model is not None:
            raise InvalidParameterError(
                "fuse merges exposures and runs no restoration method; drop task/method/model "
                "(restora burst merges and denoises)")
        default = Params()
        given = [n for n in COMMON_PARAMS if n != "sigma"
                 and getattr(params, n) != getattr(default, n)] + (["option"] if params.options else [])
        if given:
            raise InvalidParameterError(
                f"fuse takes no {', '.join(given)}; drop {', '.join('--' + g for g in given)}")
        times, source = frames.times, "given"
        if times is None:
            found = [exposure_time(p.metadata.exif) for p in photos]
            times, source = (tuple(found), "EXIF") if all(found) else (None, "")  # type: ignore[arg-type]
        merge = frames.merge if frames.merge != "fuse" else ("debevec" if times else "mertens")
        if frames.hdr is not None and merge == "mertens":
            raise InvalidParameterError(
                "--hdr needs an HDR merge, which needs the frames' exposure times: give --times "
                "(e.g. 1/30,1/8,1/2) or frames with EXIF ExposureTime")
        if merge == "mertens":
            times = None
        reference = frames.reference
        sigma = params.sigma
        if sigma is None:
            probe = pixels[reference if reference is not None else len(pixels) // 2]
            sigma = min(estimate_sigma(probe), auto.SIGMA_MAX)
        align = "mtb" if frames.align == AUTO else frames.align
        fused = fuse_exposures(pixels, times=times, merge=merge, align_method=align,
                               reference=reference, remove_ghosts=frames.deghost,
                               sigma=max(sigma, 0.5), tone=frames.tonemap, progress=progress)
        ref = fused.reference
        n = len(pixels)
        moved = max((abs(v) for a in fused.alignments for v in a.shift), default=0.0)
        replaced = 100.0 * (1.0 - float(np.mean([w for k, w in enumerate(fused.weights) if k != ref])))
        runs = f"{fused.merge} ({n} frames, align {align}, reference {ref})"
        text = [f"Merged {n} frames with {fused.merge}"]
        if times is not None:
            text.append(f" (exposure times {source}: {', '.join(_seconds(t) for t in times)})")
        text.append(f"; aligned by {align} to {_label(photos[ref], ref)} (largest shift "
                    f"{moved:.1f} px)")
        if frames.deghost:
            text.append(f"; ghost removal took {replaced:.1f} % of the other frames' pixels "
                        "from the reference")
        if fused.radiance is not None:
            text.append(f"; radiance tone-mapped with {frames.tonemap}")
        summary = "".join(text) + "."
        report = FramesReport(runs=runs, sigma=None, reference=ref, frames=n,
                              times=None if times is None else tuple(times), summary=summary,
                              radiance=fused.radiance)
        return fused.image, report

    def _burst(self, photos: Sequence[Photo], pixels: list[np.ndarray], frames: Frames,
               params: Params, progress: Progress | None) -> tuple[np.ndarray, FramesReport]:
        unused = [n for n, v in (("times", frames.times), ("hdr", frames.hdr)) if v is not None]
        if unused:
            raise InvalidParameterError(
                f"a burst has one exposure: {' and '.join(unused)} apply to fuse; drop "
                f"{', '.join('--' + u for u in unused)}")
        reference = frames.reference or 0
        ref_photo = photos[reference]
        method = "wiener" if frames.merge == "burst" else str(frames.merge)
        align = "tiles" if frames.align == AUTO else frames.align
        steps = 2 if frames.denoise else 1
        burst = merge_burst(
            pixels, sigma=params.sigma, method=method, align_method=align, reference=reference,
            progress=None if progress is None else _step_progress(progress, 0, steps))
        merged, sigma = burst.merged, burst.sigma
        # the merge's noise: the single-image estimator on the merge, calibrated on the
        # reference frame against the burst's own measure, within what averaging can give
        jpeg = ref_photo.format == "JPEG"
        bias = sigma / max(estimate_sigma(pixels[reference], luma_only=jpeg), 0.1)
        floor = sigma / math.sqrt(max(burst.effective, 1.0))
        measured = estimate_sigma(merged, luma_only=jpeg) * bias
        merged_sigma = float(min(max(measured, floor), sigma, auto.SIGMA_MAX))
        n = len(pixels)
        runs = f"burst merge ({method}, {n} frames, align {align})"
        summary = (f"Merged {n} frames ({method}, aligned by {align} to "
                   f"{_label(ref_photo, reference)}): noise sigma {sigma:.1f} -> "
                   f"{merged_sigma:.1f} (8-bit units)")
        out = merged
        if frames.denoise:
            denoiser = self._burst_denoiser()
            channels = merged.shape[2]
            info, _, _ = denoiser.method_for(
                None if denoiser.choice.method or denoiser.choice.model else "denoise",
                channels=channels)
            step = replace(params, sigma=merged_sigma if "sigma" in info.options else None)
            out, done = denoiser.run(
                merged, step, photo=None,
                progress=None if progress is None else _step_progress(progress, 1, steps))
            runs += f" -> {done.runs}"
            level = "" if done.sigma is None else f" at sigma {done.sigma:.1f}"
            summary += f"; then denoised by {done.runs}{level}"
        report = FramesReport(runs=runs, sigma=merged_sigma, reference=reference, frames=n,
                              summary=summary + ".")
        return out, report

    def _burst_denoiser(self) -> Restorer:
        """This restorer with task denoise (bursts denoise; ``auto`` and ``denoise`` only)."""
        task = self.choice.task
        if task == "denoise":
            return self
        if task != AUTO:
            raise InvalidParameterError(
                f"a burst is merged and then denoised; task {task!r} does not apply (drop --task)")
        with self._lock:
            if self._denoiser is None:
                self._denoiser = Restorer(replace(self.choice, task="denoise"), self.execution)
            return self._denoiser

    def run_frames_file(self, sources: Sequence[str | Path], target: str | Path, frames: Frames,
                        params: Params | None = None, output: Output | None = None, *,
                        progress: Progress | None = None) -> tuple[Path, FramesReport]:
        """Decode ``sources`` (frames of one scene), :meth:`run_frames` them and write
        ``target`` atomically with the reference frame's metadata (and ``frames.hdr``, the
        radiance map, when an HDR merge ran). The same refusals as :meth:`run_file`: no
        existing file is replaced (an input least of all) unless ``output.overwrite``."""
        output = Output() if output is None else output
        sources = list(sources)
        if len(sources) < 2:
            named = f" ({sources[0]})" if sources else ""
            raise InvalidParameterError(
                f"merging needs at least 2 frames of one scene; got {len(sources)}{named}")
        check_output_path(target, inputs=sources, overwrite=output.overwrite)
        path = Path(target)
        if not output.overwrite and (path.exists() or path.is_symlink()):
            raise OutputExistsError(path, "already exists; pass --overwrite (overwrite=True) "
                                          "to replace it")
        if frames.hdr is not None:
            if frames.kind != "fuse":
                raise InvalidParameterError("--hdr applies to fuse (exposure brackets)")
            if Path(frames.hdr).resolve() == path.resolve():
                raise InvalidParameterError("--hdr and the output name the same file")
            check_radiance_path(frames.hdr, inputs=sources, overwrite=output.overwrite)
        photos = [read_image(s, max_pixels=self.execution.max_pixels) for s in sources]
        merged, report = self.run_frames(photos, frames, params, progress=progress)
        if frames.hdr is not None and report.radiance is not None:
            write_radiance(report.radiance, frames.hdr, overwrite=output.overwrite,
                           inputs=sources, metadata=merged.metadata)
        path = write_image(merged, target, bit_depth=output.bit_depth,
                           quality=output.jpeg_quality, overwrite=output.overwrite,
                           inputs=sources)
        return path, report


def _check_frames(photos: Sequence[Photo]) -> list[np.ndarray]:
    """The frames' pixels, after checking there are two or more of one size and one kind."""
    if len(photos) < 2:
        named = f" ({_name_of(photos[0], 0)})" if photos else ""
        raise InvalidParameterError(
            f"merging needs at least 2 frames of one scene; got {len(photos)}{named}")
    first = photos[0]
    kinds = {1: "gray", 3: "colour"}
    for k, photo in enumerate(photos[1:], start=1):
        if (photo.height, photo.width) != (first.height, first.width):
            raise ShapeError(
                f"{_name_of(photo, k)}: {photo.width}x{photo.height} pixels, but "
                f"{_name_of(first, 0)} is {first.width}x{first.height}; frames of one scene "
                "must have one size")
        if photo.channels != first.channels:
            raise ShapeError(
                f"{_name_of(photo, k)} is {kinds.get(photo.channels, photo.channels)} but "
                f"{_name_of(first, 0)} is {kinds.get(first.channels, first.channels)}; give "
                "frames of one kind")
    return [p.pixels for p in photos]


def _name_of(photo: Photo, index: int) -> str:
    return str(photo.source) if photo.source is not None else f"frame {index}"


def _label(photo: Photo, index: int) -> str:
    """``frame 2 (IMG_0042.jpg)`` for reports."""
    return f"frame {index}" + (f" ({photo.source.name})" if photo.source is not None else "")


def _seconds(t: float) -> str:
    """An exposure time for people: 1/30 s, 2 s."""
    return f"1/{1 / t:.0f} s" if t < 1 and abs(1 / t - round(1 / t)) < 0.05 else f"{t:g} s"


#: Tasks whose result the runner blends with the input by ``strength`` when the method has
#: no strength of its own (same size in and out).
BLEND_TASKS = ("denoise", "deblock", "deblur", "lowlight")


def blend(image: np.ndarray, result: np.ndarray, strength: float) -> np.ndarray:
    """``image + strength * (result - image)`` (HWC float32; 0 = the input, 1 = the result)."""
    x = np.asarray(image, dtype=np.float32)
    return x + np.float32(strength) * (np.asarray(result, dtype=np.float32) - x)


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


__all__ = ["DEBLUR_SIGMA_FLOOR", "FramesReport", "Report", "Restorer", "load_kernel", "load_mask"]
