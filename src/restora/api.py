"""The public restoration API: arrays in, arrays out; files in, files out.

``restore`` runs one registered method on an image (tiled when large); ``restore_file``
adds decoding and encoding with metadata carried through. The CLI is a thin layer on these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from restora.errors import InvalidParameterError, ShapeError
from restora.methods.registry import MethodInfo, get_method, list_methods, run_method

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 32

#: Method used when the caller names a task but no method (until learned defaults ship).
DEFAULT_METHODS = {"denoise": "nlm", "upscale": "bicubic", "deblur": "wiener"}

if TYPE_CHECKING:
    from restora.models import ModelDescriptor

Progress = Callable[[int, int], None]


def resolve_method(
    method: str | MethodInfo | None,
    *,
    task: str | None = None,
    model: str | Path | ModelDescriptor | None = None,
) -> MethodInfo:
    """The method to run: a registered name, ``None`` (the task's default), or a weight file.

    model: a weight file path (loaded safely by :func:`restora.models.load_model`) or a loaded
        descriptor; it becomes a method for ``task``. Give either ``method`` or ``model``.
    Raises :class:`InvalidParameterError` when the method does not do ``task``.
    """
    if model is not None:
        if method is not None:
            raise InvalidParameterError("give either a method or a model file, not both")
        from restora.methods.learned import method_from_model
        from restora.models.descriptor import ModelDescriptor

        if not isinstance(model, ModelDescriptor):
            from restora.models import load_model

            model = load_model(model)
        return method_from_model(model, task=task)
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
    if task is not None and info.task != task:
        raise InvalidParameterError(
            f"method {info.name!r} does {info.task!r}, not {task!r}; methods for {task!r}: "
            f"{', '.join(m.name for m in list_methods(task=task)) or 'none'}"
        )
    return info


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
    tile: int | None = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    progress: Progress | None = None,
) -> np.ndarray:
    """Restore one image with a registered method.

    method / model: a registered method name, or a weight file (see :func:`resolve_method`).
    image: HW or HWC (C = 1 or 3), uint8, uint16 or float in [0, 1]; never mutated. The
        result has the same dtype and layout (and ``scale`` times the size for upscaling).
    sigma: noise std in 8-bit units; ``None`` estimates it once on the whole image
        (never per tile) for methods that need it.
    kernel: 2-D array or a spec string (``"gauss:2.0"``, ``"motion:15,30"``, a file path).
    tile: tile size in pixels (``None`` = whole image); methods whose ``halo`` is -1 are
        never tiled. Overlap grows to four times the method's halo (the reach the
        blending engine reproduces exactly) when that is larger.
    """
    info = resolve_method(method, task=task, model=model)
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
    result = apply_tiled(info, pixels, options, tile=tile, overlap=overlap, progress=progress)
    return _like_input(result, image)


def apply_tiled(
    info: MethodInfo,
    pixels: np.ndarray,
    options: dict[str, object],
    *,
    tile: int | None,
    overlap: int,
    progress: Progress | None = None,
) -> np.ndarray:
    """Run ``info`` on HWC float32 ``pixels``, in tiles when the image exceeds ``tile``."""
    from restora.pipeline import run_tiled

    untiled = tile is None or info.halo < 0
    # The engine is exact for operators whose reach is at most overlap // 4.
    overlap = overlap if untiled else max(overlap, 4 * info.halo)
    out_scale = int(options["scale"]) if info.task == "upscale" else 1  # type: ignore[arg-type]
    return run_tiled(
        lambda t: run_method(info, t, **options),
        pixels,
        tile=None if untiled else tile,
        overlap=overlap,
        scale=out_scale,
        progress=progress,
    )


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
    tile: int | None = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    overwrite: bool = False,
    bit_depth: int | None = None,
    jpeg_quality: int = 95,
    max_pixels: int | None = None,
    progress: Progress | None = None,
) -> Path:
    """Decode ``input_path``, restore it, and write ``output_path`` atomically.

    EXIF (orientation reset), ICC and XMP travel to the output where its format allows; alpha
    is carried untouched (resized for upscaling). The output keeps the input's bit depth
    unless ``bit_depth`` says otherwise. Refuses to overwrite the input unless ``overwrite``.
    """
    from restora.io import check_output_path, read_image, write_image

    check_output_path(output_path, inputs=[input_path], overwrite=overwrite)
    info = resolve_method(method, task=task, model=model)  # load a model once, before decoding
    photo = read_image(input_path, max_pixels=max_pixels)
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
