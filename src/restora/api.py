"""The public restoration API: arrays in, arrays out; files in, files out.

``restore`` runs one registered method on an image (tiled when large); ``restore_file``
adds decoding and encoding with metadata carried through. The CLI is a thin layer on these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from restora.errors import InvalidParameterError, ShapeError
from restora.methods.registry import MethodInfo, get_method, list_methods, run_method

DEFAULT_TILE = 512
"""Tile side for classical methods; networks use their runner's ``default_tile`` (1024 on CPU)."""
DEFAULT_OVERLAP = 32

#: Method used when the caller names a task but no method and no default weights ship
#: for it (see :mod:`restora.weights`).
DEFAULT_METHODS = {"denoise": "nlm", "upscale": "bicubic", "deblur": "wiener"}

#: The task that inspects each image and chains deblock -> denoise -> upscale (restora.auto).
AUTO_TASK = "auto"

if TYPE_CHECKING:
    from restora.auto import Plan
    from restora.models import ModelDescriptor

Progress = Callable[[int, int], None]


def resolve_method(
    method: str | MethodInfo | None,
    *,
    task: str | None = None,
    model: str | Path | ModelDescriptor | None = None,
    device: str = "cpu",
    precision: str = "auto",
    ensemble: bool = False,
    channels: int | None = None,
    scale: int | None = None,
) -> MethodInfo:
    """The method to run: a registered name, ``None`` (the task's default), or a weight file.

    model: a weight file path (loaded safely by :func:`restora.models.load_model`), the name
        of a shipped weight set (e.g. ``"upscale_real_x4"``, see :mod:`restora.weights`) or a
        loaded descriptor; it becomes a method for ``task``. Give either ``method`` or
        ``model``. A gray (1-channel) model asked to deblock serves colour images through
        their luma.
    ``None`` for both runs the task's shipped default weights (:mod:`restora.weights`) when
    they take ``channels`` / ``scale``, else the classical :data:`DEFAULT_METHODS` entry.
    device / precision / ensemble: how a network runs (see
        :class:`restora.models.inference.InferenceRunner`); classical methods refuse
        anything but the defaults.
    Raises :class:`InvalidParameterError` when the method does not do ``task``.
    """
    from restora.methods.learned import method_from_model, model_runner

    run_options = {"device": device, "precision": precision, "ensemble": ensemble}
    if task == AUTO_TASK:
        raise InvalidParameterError(
            "task 'auto' chooses its methods per image (restora.auto); to choose a method or a "
            "weight file yourself, name a task: --task denoise | upscale | deblock | deblur"
        )
    if model is None and method is None and task is not None:
        from restora.weights import default_model

        model = default_model(task, channels=channels, scale=scale)
    if isinstance(model, (str, Path)) and not Path(model).exists():
        from restora.weights import find_card, verified_path

        card = find_card(str(model))
        if card is not None:
            model = verified_path(card)
    if model is not None:
        if method is not None:
            raise InvalidParameterError("give either a method or a model file, not both")
        from restora.models.descriptor import ModelDescriptor

        if not isinstance(model, ModelDescriptor):
            from restora.models import load_model

            model = load_model(model)
        luma = (task or model.task) == "deblock" and model.in_channels == 1
        return method_from_model(model, task=task, luma=luma, **run_options)  # type: ignore[arg-type]
    changed = [f"{k}={v!r}" for k, v in run_options.items() if v != _RUN_DEFAULTS[k]]
    if isinstance(method, MethodInfo):
        info = method
    elif method is None:
        if task is None:
            raise InvalidParameterError("give a task (denoise, upscale, deblur, ...) or a method")
        name = DEFAULT_METHODS.get(task)
        if name is None:
            available = ", ".join(m.name for m in list_methods(task=task)) or "none yet"
            raise InvalidParameterError(
                f"no default method for task {task!r}; choose one with --method ({available}) "
                "or a weight file with --model"
            )
        info = get_method(name)
    else:
        info = get_method(method)
    runner = model_runner(info)
    if changed and runner is None:
        raise InvalidParameterError(
            f"method {info.name!r} is not a network: {', '.join(changed)} apply only to a "
            "weight file (--model); leave device, precision and ensemble at their defaults"
        )
    if changed and runner is not None:
        info = method_from_model(
            runner.model,
            task=info.task,
            channels_last=runner.channels_last,
            threads=runner.threads,
            **run_options,  # type: ignore[arg-type]
        )
    if task is not None and info.task != task:
        raise InvalidParameterError(
            f"method {info.name!r} does {info.task!r}, not {task!r}; methods for {task!r}: "
            f"{', '.join(m.name for m in list_methods(task=task)) or 'none'}"
        )
    return info


_RUN_DEFAULTS = {"device": "cpu", "precision": "auto", "ensemble": False}


def _as_hwc_float(image: np.ndarray) -> np.ndarray:
    from restora.io import to_float32

    if image.ndim not in (2, 3):
        raise ShapeError(f"expected an HW or HWC image; got shape {tuple(image.shape)}")
    return to_float32(image)


def _like_input(result: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Return ``result`` (HWC float32 [0,1]) in the caller's dtype and layout."""
    from restora.io import from_float32

    out = result[..., 0] if original.ndim == 2 else result
    if original.dtype in (np.uint8, np.uint16):
        return from_float32(out, original.dtype)
    return out.astype(original.dtype, copy=False)


def restore(
    image: np.ndarray,
    *,
    task: str | None = "denoise",
    method: str | MethodInfo | None = None,
    model: str | Path | ModelDescriptor | None = None,
    sigma: float | None = None,
    scale: int | None = None,
    kernel: np.ndarray | str | None = None,
    quality: int | None = None,
    seed: int | None = None,
    tile: int | None | Literal["auto"] = "auto",
    overlap: int = DEFAULT_OVERLAP,
    progress: Progress | None = None,
    device: str = "cpu",
    precision: str = "auto",
    batch: int = 1,
    ensemble: bool = False,
    threads: int | None = None,
    method_options: Mapping[str, object] | None = None,
) -> np.ndarray:
    """Restore one image with a registered method.

    method / model: a registered method name, or a weight file (see :func:`resolve_method`).
    image: HW or HWC (C = 1 or 3), uint8, uint16 or float in [0, 1]; never mutated. The
        result has the same dtype and layout (and ``scale`` times the size for upscaling).
    sigma: noise std in 8-bit units; ``None`` estimates it once on the whole image
        (never per tile) for methods that need it.
    kernel: 2-D array or a spec string (``"gauss:2.0"``, ``"motion:15,30"``, a file path).
    tile: tile size in pixels (``None`` = whole image; ``"auto"`` = 512 for classical
        methods; for networks the least-work tile up to 1024, see
        :meth:`~restora.models.inference.InferenceRunner.tile_for`); methods whose ``halo`` is -1
        are never tiled. Overlap grows to four times the method's halo (the reach the
        blending engine reproduces exactly) when that is larger.
    device, precision, ensemble: how a network runs (``cpu`` / ``cuda`` / ``mps`` / ``auto``;
        ``fp32`` / ``fp16`` / ``bf16`` / ``auto``; x8 self-ensemble), see
        :class:`restora.models.inference.InferenceRunner`. Networks only.
    batch: tiles per network call (networks only). threads: CPU threads for torch and
        OpenCV during the call, restored afterwards (any method; ``None`` = unchanged).
    method_options: further keyword options of the method itself (e.g. ``{"iterations":
        250}`` for ``zs_n2n``, ``{"steps": 50}`` for ``diffpir``); see ``restora methods``.
    task="auto": :func:`restora.auto.run` decides the steps (no method, model or kernel;
        sigma, scale and quality, when given, are used instead of measured). An array has
        no JPEG tables: give ``quality`` to have it deblocked.
    """
    if task == AUTO_TASK:
        from restora.auto import RunOptions, run

        _check_auto(method=method, model=model, kernel=kernel, method_options=method_options)
        options = RunOptions(tile=tile, overlap=overlap, progress=progress, device=device,
                             precision=precision, batch=batch, ensemble=ensemble, threads=threads)
        pixels, _ = run(image, sigma=sigma, scale=scale, quality=quality, options=options)
        return _like_input(pixels, image)
    info = resolve_method(
        method, task=task, model=model, device=device, precision=precision, ensemble=ensemble,
        channels=image.shape[2] if image.ndim == 3 else 1, scale=scale,
    )
    pixels = _as_hwc_float(image)
    if info.task == "upscale" and scale is None:
        raise InvalidParameterError(f"method {info.name!r} upscales: give scale (e.g. 2 or 4)")
    if isinstance(kernel, str):
        from restora.degrade import parse_kernel

        kernel = parse_kernel(kernel)
    if info.needs_kernel and kernel is None:
        raise InvalidParameterError(
            f"method {info.name!r} needs a blur kernel: give kernel "
            "(e.g. 'gauss:2.0', 'motion:15,30' or a .npy/.png file)"
        )
    if info.needs_sigma and sigma is None and "sigma" in info.options:
        from restora.methods.noise_level import estimate_sigma

        sigma = estimate_sigma(pixels)
    options = dict(sigma=sigma, scale=scale, kernel=kernel, quality=quality, seed=seed)
    options.update(check_method_options(info, method_options, options))
    if tile == "auto":
        from restora.methods.learned import model_runner

        runner = model_runner(info)
        reach = max(overlap, 4 * info.halo)  # the overlap apply_tiled will use
        h, w = pixels.shape[:2]
        tile = DEFAULT_TILE if runner is None else runner.tile_for(h, w, overlap=reach)
    from restora.models.inference import cpu_threads

    with cpu_threads(threads):
        result = apply_tiled(
            info, pixels, options, tile=tile, overlap=overlap, progress=progress, batch=batch
        )
    return _like_input(result, image)


def check_method_options(
    info: MethodInfo, extra: Mapping[str, object] | None, common: Mapping[str, object]
) -> dict[str, object]:
    """``extra`` checked against what ``info`` takes; the common options keep their own names."""
    if not extra:
        return {}
    clash = sorted(k for k in extra if k in common)
    if clash:
        raise InvalidParameterError(
            f"give {', '.join(clash)} as its own option (--{clash[0]} / {clash[0]}=...), not as a "
            "method option"
        )
    unknown = sorted(k for k in extra if k not in info.options)
    if unknown:
        takes = [k for k in info.options if k not in common]
        raise InvalidParameterError(
            f"method {info.name!r} has no option {', '.join(unknown)}; its own options are: "
            f"{', '.join(takes) or 'none'}"
        )
    return dict(extra)


def _check_auto(
    *, method: object = None, model: object = None, kernel: object = None,
    method_options: object = None,
) -> None:
    """Refuse options that the automatic pipeline decides itself (or cannot use)."""
    given = [name for name, value in (("method", method), ("model", model), ("kernel", kernel),
                                      ("option", method_options or None))
             if value is not None]
    if given:
        raise InvalidParameterError(
            f"task 'auto' chooses its methods itself and does not deblur; it takes no "
            f"{' or '.join(given)}. Drop {', '.join('--' + g for g in given)}, or name a task "
            "(--task denoise | upscale | deblock | deblur) to choose yourself"
        )


def apply_tiled(
    info: MethodInfo,
    pixels: np.ndarray,
    options: dict[str, object],
    *,
    tile: int | None,
    overlap: int,
    progress: Progress | None = None,
    batch: int = 1,
) -> np.ndarray:
    """Run ``info`` on HWC float32 ``pixels``, in tiles when the image exceeds ``tile``.

    batch: tiles per call; above 1 only for networks, which get NHWC stacks. Networks'
    tiles are multiples of the model's ``size_multiple``.
    """
    from restora.methods.learned import model_runner
    from restora.pipeline import run_tiled

    untiled = tile is None or info.halo < 0
    # The engine is exact for operators whose reach is at most overlap // 4.
    overlap = overlap if untiled else max(overlap, 4 * info.halo)
    out_scale = int(options["scale"]) if info.task == "upscale" else 1  # type: ignore[arg-type]
    runner = model_runner(info)
    if runner is None and batch != 1:
        raise InvalidParameterError(
            f"batch={batch}: method {info.name!r} is not a network and runs one tile at a "
            "time; batch applies only to a weight file (--model)"
        )
    if batch == 1:
        fn = lambda t: run_method(info, t, **options)
    else:
        assert runner is not None
        fn = _batched(info, runner, options)
    return run_tiled(
        fn,
        pixels,
        tile=None if untiled else tile,
        overlap=overlap,
        scale=out_scale,
        multiple=1 if runner is None else runner.model.size_multiple,
        progress=progress,
        batch=batch,
    )


def _batched(info: MethodInfo, runner: object, options: dict[str, object]) -> Callable:
    """The NHWC tile function of a network, with ``run_method``'s option checks."""
    given = {k: v for k, v in options.items() if v is not None}
    unknown = [k for k in given if k not in info.options]
    if unknown:
        raise InvalidParameterError(
            f"method {info.name!r} does not take option(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(info.options) or 'no options'}"
        )
    return lambda stack: runner.run_batch(stack, **given)  # type: ignore[attr-defined]


def restore_file(
    input_path: str | Path,
    output_path: str | Path,
    *,
    task: str | None = "denoise",
    method: str | MethodInfo | None = None,
    model: str | Path | ModelDescriptor | None = None,
    sigma: float | None = None,
    scale: int | None = None,
    kernel: np.ndarray | str | None = None,
    quality: int | None = None,
    seed: int | None = None,
    tile: int | None | Literal["auto"] = "auto",
    overlap: int = DEFAULT_OVERLAP,
    overwrite: bool = False,
    bit_depth: int | None = None,
    jpeg_quality: int = 95,
    max_pixels: int | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
    precision: str = "auto",
    batch: int = 1,
    ensemble: bool = False,
    threads: int | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    method_options: Mapping[str, object] | None = None,
) -> Path:
    """Decode ``input_path``, restore it, and write ``output_path`` atomically.

    EXIF (orientation reset), ICC and XMP travel to the output where its format allows; alpha
    is carried untouched (resized for upscaling). The output keeps the input's bit depth
    unless ``bit_depth`` says otherwise. Refuses to overwrite the input unless ``overwrite``.
    task="auto" plans per image (the JPEG quality comes from the file) and calls
    ``on_plan(plan)`` before running it. The other options are :func:`restore`'s.
    """
    from restora.io import check_output_path, read_image, write_image

    check_output_path(output_path, inputs=[input_path], overwrite=overwrite)
    if task == AUTO_TASK:
        from restora import auto

        _check_auto(method=method, model=model, kernel=kernel, method_options=method_options)
        photo = read_image(input_path, max_pixels=max_pixels)
        plan = auto.plan(photo, sigma=sigma, scale=scale, quality=quality)
        if on_plan is not None:
            on_plan(plan)
        options = auto.RunOptions(tile=tile, overlap=overlap, progress=progress, device=device,
                                  precision=precision, batch=batch, ensemble=ensemble,
                                  threads=threads)
        restored = auto.run_plan(plan, photo, options)
        return write_image(photo.with_pixels(restored), output_path, bit_depth=bit_depth,
                           quality=jpeg_quality, overwrite=overwrite, inputs=[input_path])
    # Load a model (and check device/precision) once, before decoding.
    info = resolve_method(
        method, task=task, model=model, device=device, precision=precision, ensemble=ensemble,
        scale=scale,
    )
    check_method_options(info, method_options, {"sigma": sigma, "scale": scale, "kernel": kernel,
                                           "quality": quality, "seed": seed})  # before decoding
    photo = read_image(input_path, max_pixels=max_pixels)
    if sigma is None and info.needs_sigma and "sigma" in info.options and photo.format == "JPEG":
        from restora.methods.noise_level import estimate_sigma

        sigma = estimate_sigma(photo.pixels, luma_only=True)  # chroma may be subsampled
    restored = restore(
        photo.pixels,
        task=task,
        method=info,
        sigma=sigma,
        scale=scale,
        kernel=kernel,
        quality=quality,
        seed=seed,
        tile=tile,
        overlap=overlap,
        progress=progress,
        batch=batch,
        threads=threads,
        method_options=method_options,
    )
    return write_image(
        photo.with_pixels(restored),
        output_path,
        bit_depth=bit_depth,
        quality=jpeg_quality,
        overwrite=overwrite,
        inputs=[input_path],
    )


def output_paths(inputs: Sequence[str | Path], output: str | Path) -> list[Path]:
    """Where each input goes: one input -> ``output`` itself; several -> ``output/<name>``."""
    paths = [Path(p) for p in inputs]
    out = Path(output)
    if len(paths) == 1 and not out.is_dir():
        return [out]
    names = [p.name for p in paths]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise InvalidParameterError(
            f"several inputs share the file name(s) {', '.join(clashes)}; they would overwrite "
            "each other in the output folder"
        )
    return [out / n for n in names]
