"""The only ndarray <-> float <-> tensor conversions in restora.

Arrays are HWC, tensors NCHW, floats float32 in [0, 1]. Integer data maps k -> k / max
(255 or 65535), and back with clip + round-half-up, so k -> float -> k is exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from restora.errors import InvalidParameterError, ShapeError

if TYPE_CHECKING:
    import torch

_INT_MAX = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def to_float32(array: np.ndarray) -> np.ndarray:
    """HWC float32 in [0, 1] from an HW or HWC array (new array; the input is untouched).

    uint8 -> k/255, uint16 -> k/65535, bool -> 0/1, floats -> cast only (assumed in [0, 1],
    not clipped). HW becomes HW1. Other dtypes (signed ints, uint32, ...) raise
    :class:`InvalidParameterError`; other ranks raise :class:`ShapeError`.
    """
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ShapeError(
            f"expected an image array of shape HxW or HxWxC, got shape {array.shape}"
        )
    dtype = array.dtype
    if dtype in _INT_MAX:
        out = array.astype(np.float32)
        out /= np.float32(_INT_MAX[dtype])
    elif dtype == np.bool_:
        out = array.astype(np.float32)
    elif np.issubdtype(dtype, np.floating):
        out = array.astype(np.float32, copy=True)
    else:
        raise InvalidParameterError(
            f"cannot convert image dtype {dtype} to float; expected uint8, uint16, bool or a "
            "float dtype in [0, 1]"
        )
    return np.ascontiguousarray(out)


def from_float32(image: np.ndarray, dtype: Any = np.uint8) -> np.ndarray:
    """Quantise a float image in [0, 1] to uint8 or uint16 (same shape, new array).

    Values are clipped to [0, 1], scaled by 255 or 65535 and rounded half up
    (``floor(x * max + 0.5)``, as MATLAB's ``im2uint8`` does for non-negative values).
    NaN raises :class:`InvalidParameterError` (it means a method failed upstream).
    """
    target = np.dtype(dtype)
    if target not in _INT_MAX:
        raise InvalidParameterError(f"dtype must be numpy.uint8 or numpy.uint16, got {target}")
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.floating):
        raise InvalidParameterError(
            f"from_float32 expects a float image in [0, 1], got dtype {image.dtype}; "
            "use to_float32 first"
        )
    if np.isnan(image).any():
        raise InvalidParameterError("the image contains NaN values; cannot quantise it")
    # float32 suffices: k/max -> k is exact for every k (error < 0.01 before rounding)
    scaled = np.clip(image, 0.0, 1.0).astype(np.float32, copy=False)
    scaled *= np.float32(_INT_MAX[target])
    scaled += np.float32(0.5)
    np.floor(scaled, out=scaled)
    return scaled.astype(target)


def to_tensor(
    image: np.ndarray, *, device: str | torch.device | None = None, dtype: Any = None
) -> torch.Tensor:
    """NCHW tensor from an HW, HWC (N = 1) or NHWC array; values as :func:`to_float32` gives.

    ``dtype`` defaults to ``torch.float32``; ``device`` to CPU. The tensor never shares
    memory with ``image``.
    """
    import torch

    array = np.asarray(image)
    if array.ndim == 4:
        batch = np.stack([to_float32(frame) for frame in array])
        chw = batch.transpose(0, 3, 1, 2)
    else:
        chw = to_float32(array).transpose(2, 0, 1)[None]
    tensor = torch.from_numpy(np.ascontiguousarray(chw))
    return tensor.to(device=device, dtype=dtype if dtype is not None else torch.float32)


def from_tensor(tensor: torch.Tensor) -> np.ndarray:
    """HWC float32 array from a CHW tensor; NHWC from an NCHW tensor (whatever N, 1 included).

    Detaches, moves to CPU, casts to float32; values are not clipped (quantisation clips).
    The result never shares memory with the tensor.
    """
    import torch

    if not isinstance(tensor, torch.Tensor):
        raise InvalidParameterError(f"expected a torch.Tensor, got {type(tensor).__name__}")
    if tensor.ndim not in (3, 4):
        raise ShapeError(
            f"expected a CHW or NCHW tensor, got shape {tuple(tensor.shape)}"
        )
    array = tensor.detach().to(device="cpu", dtype=torch.float32).numpy()
    axes = (1, 2, 0) if array.ndim == 3 else (0, 2, 3, 1)
    return np.array(array.transpose(axes), dtype=np.float32, order="C", copy=True)


def to_device_chw(image: np.ndarray, device: str | torch.device) -> torch.Tensor:
    """CHW float32 tensor on ``device`` from an HW or HWC array, converted *there*.

    Values are :func:`to_float32`'s (k/255, k/65535, bool 0/1, floats cast). 8/16-bit
    samples cross to the device as they are (a quarter or half of the float32 bytes) and
    are divided on it; float64 is cast to float32 first. On CUDA the copy starts from pinned
    memory and does not block the caller (later work on the same stream waits for it).
    """
    import torch

    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ShapeError(f"expected an image array of shape HxW or HxWxC, got shape {array.shape}")
    dtype = array.dtype
    if dtype not in _INT_MAX and dtype != np.bool_ and not np.issubdtype(dtype, np.floating):
        raise InvalidParameterError(
            f"cannot convert image dtype {dtype} to float; expected uint8, uint16, bool or a "
            "float dtype in [0, 1]"
        )
    if np.issubdtype(dtype, np.floating):
        array = array.astype(np.float32, copy=False)
    host = torch.from_numpy(np.ascontiguousarray(array))
    target = torch.device(device)
    if target.type == "cuda":
        host = host.pin_memory()
    moved = host.to(target, non_blocking=target.type == "cuda")
    chw = moved.permute(2, 0, 1).to(torch.float32)
    if dtype in _INT_MAX:
        chw = chw / _INT_MAX[dtype]
    return chw.contiguous()


def hwc_rows_to_numpy(rows: torch.Tensor) -> np.ndarray:
    """HWC float32 numpy rows from an HWC tensor on any device (a view when it is already a
    CPU float32 tensor: read it before changing the tensor)."""
    import torch

    if rows.ndim != 3:
        raise ShapeError(f"expected HWC rows, got shape {tuple(rows.shape)}")
    return rows.detach().to(device="cpu", dtype=torch.float32).numpy()


def hwc_rows_to_samples(rows: torch.Tensor, dtype: Any = np.uint8) -> np.ndarray:
    """:func:`from_float32` of HWC float rows, quantised where the tensor is (a GPU) so that
    only the samples come down: the same float32 arithmetic, so the same values. NaN raises
    :class:`InvalidParameterError`."""
    import torch

    target = np.dtype(dtype)
    if target not in _INT_MAX:
        raise InvalidParameterError(f"dtype must be numpy.uint8 or numpy.uint16, got {target}")
    if rows.ndim != 3:
        raise ShapeError(f"expected HWC rows, got shape {tuple(rows.shape)}")
    rows = rows.detach().to(torch.float32)
    if bool(torch.isnan(rows).any()):
        raise InvalidParameterError("the image contains NaN values; cannot quantise it")
    scaled = rows.clamp(0.0, 1.0).mul_(_INT_MAX[target]).add_(0.5).floor_()
    # uint8 crosses as it is; 16-bit as int32 (torch's uint16 lacks device casts everywhere)
    return scaled.to(torch.uint8 if target == np.uint8 else torch.int32).cpu().numpy().astype(target, copy=False)
