"""The public restoration API: arrays in, arrays out; files in, files out.

Both functions take the request's options as keywords (``task``, ``method``, ``model``,
``sigma``, ``scale``, ``kernel``, ``quality``, ``seed``, ``mask``, ``options``, ``device``,
``precision``, ``tile``, ``overlap``, ``batch``, ``ensemble``, ``threads``, ``max_pixels``
and, for files, ``bit_depth``, ``jpeg_quality``, ``overwrite``): the fields of
:mod:`restora.options`, checked there (an unknown name is refused), with the same defaults
as the CLI, batch and web (task ``auto``). Both run :class:`restora.run.Restorer`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import numpy as np

from restora.errors import InvalidParameterError, ShapeError
from restora.io import from_float32
from restora.options import GROUPS, Output, Request
from restora.run import OnPlan, Progress, Restorer


def restore(image: np.ndarray, *, progress: Progress | None = None, **options: Any) -> np.ndarray:
    """Restore one image array.

    image: HW or HWC (C = 1 or 3), uint8, uint16 or float in [0, 1]; never mutated. The
        result has the same dtype and layout (``scale`` times the size for upscaling; 3
        channels for demosaicking).
    options: :mod:`restora.options` fields, e.g. ``task="denoise"``, ``method="nlm"``,
        ``sigma=25`` (8-bit units; omitted: estimated once on the whole image),
        ``kernel="gauss:2.0"``, ``device="cuda"``, ``tile=None`` (whole image). The default
        task ``auto`` denoises a noisy array and upscales when ``scale`` is given (an
        array has no JPEG tables: give ``quality`` to have it deblocked).
    progress: called as ``progress(done, total)`` over the tiles (and steps).
    """
    request = _request(options, files=False, source="restore")
    array = np.asarray(image)
    if array.ndim not in (2, 3):
        raise ShapeError(f"expected an HW or HWC image; got shape {tuple(array.shape)}")
    restorer = Restorer(request.choice, request.execution)
    if array.dtype in (np.uint8, np.uint16) and not restorer.automatic \
            and request.params.strength is None:
        # samples in, samples out by bands: no float copy of the photo (a GPU gets the samples)
        result, _ = restorer.run_samples(array if array.ndim == 3 else array[..., None],
                                         request.params, progress=progress)
        return result[..., 0] if array.ndim == 2 and result.shape[2] == 1 else result
    result, _ = restorer.run(array, request.params, progress=progress)  # run() makes floats
    return _like_input(result, array)


def restore_file(
    input_path: str | Path,
    output_path: str | Path,
    *,
    progress: Progress | None = None,
    on_plan: OnPlan | None = None,
    **options: Any,
) -> Path:
    """Decode ``input_path``, restore it, and write ``output_path`` atomically.

    EXIF (orientation reset), ICC and XMP travel to the output where its format allows;
    alpha is carried untouched (resized for upscaling). The output keeps the input's bit
    depth unless ``bit_depth`` says otherwise. Refuses to overwrite the input unless
    ``overwrite=True``. In the automatic mode the JPEG quality comes from the file and
    ``on_plan(plan)`` is called before the plan runs. Options: as :func:`restore`.
    """
    request = _request(options, files=True, source="restore_file")
    path, _ = Restorer(request.choice, request.execution).run_file(
        input_path, output_path, request.params, request.output, progress=progress,
        on_plan=on_plan)
    return path


def _request(options: dict[str, Any], *, files: bool, source: str) -> Request:
    if not files:
        given = sorted(k for k in options if k in {f.name for f in fields(Output)})
        if given:
            raise InvalidParameterError(
                f"{', '.join(given)} apply to files (restore_file), not to arrays")
    return Request.from_mapping(options, source=source)


def _like_input(result: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Return ``result`` (HWC float32 [0,1]) in the caller's dtype and layout."""
    out = result[..., 0] if original.ndim == 2 and result.shape[2] == 1 else result
    if original.dtype in (np.uint8, np.uint16):
        return from_float32(out, original.dtype)
    return out.astype(original.dtype, copy=False)


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


def _keyword_signature(fn: Callable[..., Any], *, files: bool) -> inspect.Signature:
    """``fn``'s signature with the request's options as keyword parameters (for ``help()``
    and editors), in place of ``**options``."""
    base = [p for p in inspect.signature(fn).parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extra = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                               default=f.default if f.default is not MISSING else f.default_factory())
             for group in GROUPS if files or group is not Output for f in fields(group)]
    return inspect.Signature(base + extra)


restore.__signature__ = _keyword_signature(restore, files=False)  # type: ignore[attr-defined]
restore_file.__signature__ = _keyword_signature(restore_file, files=True)  # type: ignore[attr-defined]
