"""MATLAB-compatible ``imresize`` (bicubic and friends) and its matrix form.

The algorithm is MATLAB's ``imresize`` (Image Processing Toolbox) as also ported by BasicSR
(``basicsr/utils/matlab_functions.py``):

* output size ``ceil(scale * in)`` (or given); output pixel ``x = 1..out`` (1-based) reads
  around the input coordinate ``u = x / scale + 0.5 (1 - 1/scale)``;
* on downscaling with antialiasing the kernel is stretched by ``1/scale``
  (``h(x) = scale * k(scale * x)``, width ``w / scale``);
* each output row of weights is normalised to sum 1;
* out-of-range taps are clamped to the first/last pixel (MATLAB's ``contributions``: "Clamp
  out-of-range indices; has the effect of replicating end-points"). BasicSR's port mirrors
  them instead (``boundary="symmetric"``); only the outermost output rows/columns differ;
* the two passes are separable, the dimension with the smaller scale first.

Kernels (as in MATLAB): ``bicubic`` (Keys cubic, a = -0.5, width 4), ``bilinear``/``triangle``
(width 2), ``box`` (width 1), ``lanczos2`` (width 4), ``lanczos3`` (width 6).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from restora.degrade._common import check_image, check_number, float_out_dtype
from restora.errors import InvalidParameterError

_EPS = np.finfo(np.float64).eps


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * (
        (1 < ax) & (ax <= 2)
    )


def _box(x: np.ndarray) -> np.ndarray:
    return ((-0.5 <= x) & (x < 0.5)).astype(np.float64)


def _triangle(x: np.ndarray) -> np.ndarray:
    return (x + 1) * ((-1 <= x) & (x < 0)) + (1 - x) * ((0 <= x) & (x <= 1))


def _lanczos2(x: np.ndarray) -> np.ndarray:
    f = (np.sin(np.pi * x) * np.sin(np.pi * x / 2) + _EPS) / ((np.pi**2 * x**2 / 2) + _EPS)
    return f * (np.abs(x) < 2)


def _lanczos3(x: np.ndarray) -> np.ndarray:
    f = (np.sin(np.pi * x) * np.sin(np.pi * x / 3) + _EPS) / ((np.pi**2 * x**2 / 3) + _EPS)
    return f * (np.abs(x) < 3)


_KERNELS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float]] = {
    "bicubic": (_cubic, 4.0),
    "cubic": (_cubic, 4.0),
    "bilinear": (_triangle, 2.0),
    "triangle": (_triangle, 2.0),
    "box": (_box, 1.0),
    "lanczos2": (_lanczos2, 4.0),
    "lanczos3": (_lanczos3, 6.0),
}

RESIZE_KERNELS: tuple[str, ...] = tuple(_KERNELS)
RESIZE_BOUNDARIES: tuple[str, ...] = ("replicate", "symmetric")


def _check_kernel(kernel: str) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    if not isinstance(kernel, str) or kernel.lower() not in _KERNELS:
        raise InvalidParameterError(
            f"kernel: expected one of {', '.join(RESIZE_KERNELS)}, got {kernel!r}."
        )
    return _KERNELS[kernel.lower()]


def _check_boundary(boundary: str) -> str:
    if boundary not in RESIZE_BOUNDARIES:
        raise InvalidParameterError(
            f"boundary: expected one of {', '.join(RESIZE_BOUNDARIES)}, got {boundary!r}."
        )
    return boundary


def contributions(
    in_len: int,
    out_len: int,
    scale: float,
    kernel: str = "bicubic",
    antialias: bool = True,
    boundary: str = "replicate",
) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's ``contributions``: per output pixel, the weights and 0-based input indices.

    Returns ``(weights, indices)``, both of shape (out_len, P); rows of ``weights`` sum to 1;
    ``indices`` are already brought into ``[0, in_len)`` (clamped for "replicate", mirrored
    ``[1..n, n..1]`` for "symmetric"). Zero-weight taps are kept (they change no sum).
    """
    f, width = _check_kernel(kernel)
    _check_boundary(boundary)
    if scale < 1 and antialias:

        def h(x: np.ndarray) -> np.ndarray:
            return scale * f(scale * x)

        width = width / scale
    else:
        h = f
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    p = int(math.ceil(width)) + 2
    ind = left[:, None] + np.arange(p, dtype=np.float64)[None, :]  # 1-based, like MATLAB
    weights = h(u[:, None] - ind)
    weights = weights / weights.sum(axis=1, keepdims=True)
    ind0 = ind.astype(np.int64) - 1
    if boundary == "replicate":
        indices = np.clip(ind0, 0, in_len - 1)
    else:
        aux = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
        indices = aux[np.mod(ind0, 2 * in_len)]
    return weights, indices


def resize_matrix(
    in_len: int,
    out_len: int,
    scale: float,
    kernel: str = "bicubic",
    antialias: bool = True,
    *,
    boundary: str = "replicate",
    sparse: bool = False,
) -> Any:
    """The 1-D resize as a matrix ``M`` of shape (out_len, in_len): ``resized = M @ signal``.

    Its transpose is the exact adjoint. float64, dense ndarray, or ``scipy.sparse.csr_matrix``
    when ``sparse=True`` (taps that mirror onto the same input pixel are summed).
    """
    for name, n in (("in_len", in_len), ("out_len", out_len)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InvalidParameterError(f"{name}: expected a positive integer, got {n!r}.")
    scale = check_number(scale, name="scale", minimum=0.0, strict=True)
    weights, indices = contributions(int(in_len), int(out_len), scale, kernel, antialias, boundary)
    rows = np.repeat(np.arange(out_len), weights.shape[1])
    if sparse:
        import scipy.sparse

        return scipy.sparse.csr_matrix(
            (weights.ravel(), (rows, indices.ravel())), shape=(out_len, in_len)
        )
    m = np.zeros((out_len, in_len))
    np.add.at(m, (rows, indices.ravel()), weights.ravel())
    return m


def _resize_axis(x: np.ndarray, weights: np.ndarray, indices: np.ndarray, axis: int) -> np.ndarray:
    """Sum the taps left to right (MATLAB's order) along ``axis``; float64 in and out."""
    xt = np.moveaxis(x, axis, 0)
    shape = (weights.shape[0],) + (1,) * (xt.ndim - 1)
    out = np.zeros((weights.shape[0],) + xt.shape[1:])
    for j in range(weights.shape[1]):
        out += weights[:, j].reshape(shape) * xt[indices[:, j]]
    return np.moveaxis(out, 0, axis)


def _output_geometry(
    in_shape: tuple[int, int],
    scale: float | None,
    output_shape: tuple[int | None, int | None] | None,
) -> tuple[tuple[float, float], tuple[int, int]]:
    if (scale is None) == (output_shape is None):
        raise InvalidParameterError(
            "imresize: give exactly one of scale= (e.g. 0.5) or output_shape=(height, width); "
            f"got scale={scale!r}, output_shape={output_shape!r}."
        )
    if scale is not None:
        s = check_number(scale, name="scale", minimum=0.0, strict=True)
        out = (math.ceil(s * in_shape[0]), math.ceil(s * in_shape[1]))
        return (s, s), out
    assert output_shape is not None
    if not isinstance(output_shape, (tuple, list)) or len(output_shape) != 2:
        raise InvalidParameterError(
            f"output_shape: expected (height, width), got {output_shape!r}."
        )
    vals = list(output_shape)
    for v in vals:
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
            raise InvalidParameterError(
                f"output_shape: expected positive integers (one may be None), got {output_shape!r}."
            )
    if vals[0] is None and vals[1] is None:
        raise InvalidParameterError("output_shape: at most one of height, width may be None.")
    if vals[0] is None:
        s = vals[1] / in_shape[1]
        return (s, s), (math.ceil(s * in_shape[0]), int(vals[1]))
    if vals[1] is None:
        s = vals[0] / in_shape[0]
        return (s, s), (int(vals[0]), math.ceil(s * in_shape[1]))
    return (vals[0] / in_shape[0], vals[1] / in_shape[1]), (int(vals[0]), int(vals[1]))


def imresize(
    image: np.ndarray,
    scale: float | None = None,
    *,
    output_shape: tuple[int | None, int | None] | None = None,
    kernel: str = "bicubic",
    antialias: bool = True,
    boundary: str = "replicate",
) -> np.ndarray:
    """Resize like MATLAB ``imresize(image, scale, kernel)``.

    image: HW or HWC array. Float input gives float output (float32 for float32/float16,
        float64 otherwise), with no clipping or rounding: callers quantise.
        uint8/uint16 input behaves as MATLAB does for integer images: each of the two passes
        is rounded (half away from zero) and saturated, and the result has the input dtype.
    scale: one factor for both axes; the output is ``ceil(scale * size)``.
    output_shape: (height, width) instead of ``scale``; one may be None to keep the aspect
        ratio. Per-axis scales are then ``out / in``.
    kernel: bicubic (default), bilinear/triangle, box, lanczos2, lanczos3.
    antialias: when shrinking, stretch the kernel by 1/scale (MATLAB's default).
    boundary: "replicate" (MATLAB, default) or "symmetric" (BasicSR's Python port).

    Raises InvalidParameterError for a bad scale/shape/kernel, ShapeError for a bad array.
    """
    arr = check_image(image)
    _check_kernel(kernel)
    _check_boundary(boundary)
    (sh, sw), (oh, ow) = _output_geometry(arr.shape[:2], scale, output_shape)
    integer = np.issubdtype(arr.dtype, np.integer)
    if integer and arr.dtype not in (np.uint8, np.uint16):
        raise InvalidParameterError(
            f"image: integer input must be uint8 or uint16 (as in MATLAB), got {arr.dtype}; "
            "convert to float first."
        )
    x = arr.astype(np.float64)
    # MATLAB: [~, order] = sort(scale) -> the smaller scale first, rows first on ties.
    order = (0, 1) if sh <= sw else (1, 0)
    for axis in order:
        s, n_out = (sh, oh) if axis == 0 else (sw, ow)
        w, idx = contributions(arr.shape[axis], n_out, s, kernel, antialias, boundary)
        x = _resize_axis(x, w, idx, axis)
        if integer:
            hi = np.iinfo(arr.dtype).max
            x = np.clip(np.floor(x + 0.5), 0, hi)
    if integer:
        return x.astype(arr.dtype)
    return x.astype(float_out_dtype(arr.dtype), copy=False)
