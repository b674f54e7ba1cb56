"""2-D convolution blur with explicit boundary handling (and the pieces of its adjoint).

``blur(x, k)[i, j] = sum_{a,b} k[a, b] * x[i + ca - a, j + cb - b]`` with the kernel origin
``(ca, cb) = (kh // 2, kw // 2)``: a true convolution (the kernel is flipped), so blurring a
unit impulse reproduces the kernel itself, centred on the impulse.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from restora.degrade._common import apply_along, check_image, float_out_dtype
from restora.errors import InvalidParameterError, ShapeError

BLUR_BOUNDARIES: tuple[str, ...] = ("reflect", "circular", "zero", "valid")


def check_kernel_array(kernel: Any) -> np.ndarray:
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or k.size == 0 or not np.all(np.isfinite(k)):
        raise ShapeError(
            f"kernel: expected a finite 2-D array, got shape {np.shape(kernel)}; build one with "
            "gaussian_kernel(), motion_kernel() or parse_kernel()."
        )
    return k


def check_boundary(boundary: str) -> str:
    if boundary not in BLUR_BOUNDARIES:
        raise InvalidParameterError(
            f"boundary: expected one of {', '.join(BLUR_BOUNDARIES)}, got {boundary!r}."
        )
    return boundary


def pad_matrix(n: int, before: int, after: int, boundary: str) -> Any:
    """Sparse (n + before + after, n) matrix that pads a length-n signal.

    "reflect": half-sample symmetric (``c b a | a b c | c b a``: MATLAB 'symmetric',
    scipy.ndimage 'reflect', OpenCV BORDER_REFLECT); "circular": periodic; "zero": zeros.
    Its transpose is the exact adjoint (it folds the padding back).
    """
    import scipy.sparse

    p = np.arange(-before, n + after)
    if boundary == "reflect":
        aux = np.concatenate([np.arange(n), np.arange(n)[::-1]])
        src = aux[np.mod(p, 2 * n)]
        rows = np.arange(p.size)
    elif boundary == "circular":
        src = np.mod(p, n)
        rows = np.arange(p.size)
    else:  # zero
        keep = (p >= 0) & (p < n)
        src = p[keep]
        rows = np.arange(p.size)[keep]
    return scipy.sparse.csr_matrix((np.ones(src.size), (rows, src)), shape=(p.size, n))


def pad_widths(kshape: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """(before, after) per axis so that a 'valid' convolution returns the input size."""
    (kh, kw) = kshape
    return (kh - 1 - kh // 2, kh // 2), (kw - 1 - kw // 2, kw // 2)


def conv_valid(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """True 2-D 'valid' convolution per channel: out shape (H - kh + 1, W - kw + 1[, C])."""
    from scipy.signal import convolve

    kk = k if x.ndim == 2 else k[:, :, None]
    return convolve(x, kk, mode="valid")


def conv_valid_adjoint(y: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Adjoint of :func:`conv_valid`: full correlation, out shape (h + kh - 1, w + kw - 1[, C])."""
    from scipy.signal import correlate

    kk = k if y.ndim == 2 else k[:, :, None]
    return correlate(y, kk, mode="full")


def blur(image: np.ndarray, kernel: np.ndarray, *, boundary: str = "reflect") -> np.ndarray:
    """Convolve each channel of ``image`` with ``kernel`` (a true convolution).

    image: HW or HWC float (not modified). kernel: 2-D array (normalise it yourself, or use
        the kernels module: they sum to 1); origin at ``(kh // 2, kw // 2)``.
    boundary: "reflect" (half-sample symmetric, default), "circular" (periodic), "zero",
        or "valid": no padding, output (H - kh + 1, W - kw + 1) holding only the pixels the
        kernel covers fully; output pixel (i, j) is centred on input pixel
        ``(i + kh - 1 - kh // 2, j + kw - 1 - kw // 2)`` (``(i + kh // 2, ...)`` for odd sizes).
    Returns float32 for float32 input, float64 otherwise.
    Raises ShapeError (bad arrays, kernel larger than the image for "valid"),
    InvalidParameterError (unknown boundary).
    """
    arr = check_image(image)
    k = check_kernel_array(kernel)
    check_boundary(boundary)
    x = arr.astype(np.float64)
    if boundary == "valid":
        if k.shape[0] > x.shape[0] or k.shape[1] > x.shape[1]:
            raise ShapeError(
                f"blur(boundary='valid'): kernel {k.shape} is larger than the image "
                f"{x.shape[:2]}; use another boundary or a smaller kernel."
            )
    else:
        (bh, ah), (bw, aw) = pad_widths(k.shape)
        x = apply_along(pad_matrix(x.shape[0], bh, ah, boundary), x, 0)
        x = apply_along(pad_matrix(x.shape[1], bw, aw, boundary), x, 1)
    out = conv_valid(x, k)
    return out.astype(float_out_dtype(arr.dtype), copy=False)
