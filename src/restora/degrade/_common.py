"""Small shared helpers for :mod:`restora.degrade` (argument checks, axis-wise matrix products)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from restora.errors import InvalidParameterError, ShapeError


def check_image(image: Any, *, name: str = "image") -> np.ndarray:
    """Return ``image`` as an ndarray after checking it is a non-empty HW or HWC numeric array."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise ShapeError(
            f"{name}: expected an HW or HWC array, got shape {arr.shape}. "
            "Pass a single image (add or drop a channel axis as needed)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ShapeError(f"{name}: expected a non-empty image, got shape {arr.shape}.")
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise InvalidParameterError(
            f"{name}: expected a float (or integer) array, got dtype {arr.dtype}. "
            "Convert it with image.astype(np.float32)."
        )
    return arr


def float_out_dtype(dtype: np.dtype) -> type:
    """float32 for float32/float16 input, float64 otherwise (the module-wide convention)."""
    return np.float32 if dtype in (np.float32, np.float16) else np.float64


def check_number(
    value: Any,
    *,
    name: str,
    minimum: float | None = None,
    strict: bool = False,
    maximum: float | None = None,
) -> float:
    """Return ``value`` as a finite float, checking bounds (``strict``: minimum excluded)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"{name}: expected a number, got {value!r}.")
    v = float(value)
    if not math.isfinite(v):
        raise InvalidParameterError(f"{name}: expected a finite number, got {value!r}.")
    if minimum is not None and (v < minimum or (strict and v == minimum)):
        rel = ">" if strict else ">="
        raise InvalidParameterError(f"{name}: expected a value {rel} {minimum:g}, got {value!r}.")
    if maximum is not None and v > maximum:
        raise InvalidParameterError(f"{name}: expected a value <= {maximum:g}, got {value!r}.")
    return v


def apply_along(matrix: Any, x: np.ndarray, axis: int) -> np.ndarray:
    """Multiply ``x`` by ``matrix`` (dense or scipy.sparse, (m, n)) along ``axis`` (length n)."""
    moved = np.moveaxis(x, axis, 0)
    rest = moved.shape[1:]
    flat = moved.reshape(moved.shape[0], -1)
    out = np.asarray(matrix @ flat)
    return np.moveaxis(out.reshape((out.shape[0],) + rest), 0, axis)
