"""Linear degradation operators with exact adjoints, for plug-and-play and inverse problems.

Each operator maps a float64 HW or HWC array ``x`` to ``A(x)`` and has ``A_adjoint(y)`` with
``<A x, y> = <x, A_adjoint y>`` up to rounding (tested in float64, as deepinv does). Shapes
are full array shapes: ``output_shape(in_shape)`` and ``input_shape(out_shape)`` convert
between them (channels pass through). Where several input sizes give the same output size
(downsampling, resizing), ``A_adjoint`` takes ``in_shape=``; without it the natural size is
used (``out * factor``, ``out / scale``) and a ShapeError is raised if there is none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from restora.degrade._common import apply_along, check_number
from restora.degrade.blur import (
    check_boundary,
    check_kernel_array,
    conv_valid,
    conv_valid_adjoint,
    pad_matrix,
    pad_widths,
)
from restora.degrade.kernels import gaussian_kernel
from restora.degrade.resize import resize_matrix
from restora.errors import InvalidParameterError, ShapeError

Shape = tuple[int, ...]


def _as_float(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise ShapeError(f"{name}: expected an HW or HWC array, got shape {arr.shape}.")
    return arr


class LinearOperator:
    """Base class: subclasses implement ``A``, ``A_adjoint`` and ``output_shape``."""

    def A(self, x: np.ndarray) -> np.ndarray:  # noqa: N802 (the usual notation)
        raise NotImplementedError

    def A_adjoint(self, y: np.ndarray, *, in_shape: Shape | None = None) -> np.ndarray:  # noqa: N802
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.A(x)

    def output_shape(self, in_shape: Shape) -> Shape:
        """Shape of ``A(x)`` for ``x`` of shape ``in_shape``."""
        return tuple(in_shape)

    def input_shape(self, out_shape: Shape) -> Shape:
        """The natural input shape whose output has ``out_shape`` (ShapeError if none)."""
        return tuple(out_shape)

    def _adjoint_shape(self, y: np.ndarray, in_shape: Shape | None) -> Shape:
        if in_shape is None:
            return self.input_shape(y.shape)
        in_shape = tuple(int(v) for v in in_shape)
        if len(in_shape) == 2 and y.ndim == 3:
            in_shape = in_shape + (y.shape[2],)
        if self.output_shape(in_shape) != y.shape:
            raise ShapeError(
                f"{type(self).__name__}.A_adjoint: y has shape {y.shape} but an input of shape "
                f"{in_shape} gives {self.output_shape(in_shape)}."
            )
        return in_shape


class BlurOperator(LinearOperator):
    """Convolution with ``kernel`` (origin ``(kh // 2, kw // 2)``), as :func:`restora.degrade.blur`.

    boundary: "circular" (default; periodic, diagonalised by the FFT), "reflect" (half-sample
    symmetric; the adjoint folds the reflected border back, so it is exact, not a mere
    flip), "zero", or "valid" (output smaller by kernel size - 1).
    """

    def __init__(self, kernel: np.ndarray, *, boundary: str = "circular") -> None:
        self.kernel = check_kernel_array(kernel).copy()
        self.boundary = check_boundary(boundary)

    def output_shape(self, in_shape: Shape) -> Shape:
        if self.boundary != "valid":
            return tuple(in_shape)
        kh, kw = self.kernel.shape
        return (in_shape[0] - kh + 1, in_shape[1] - kw + 1) + tuple(in_shape[2:])

    def input_shape(self, out_shape: Shape) -> Shape:
        if self.boundary != "valid":
            return tuple(out_shape)
        kh, kw = self.kernel.shape
        return (out_shape[0] + kh - 1, out_shape[1] + kw - 1) + tuple(out_shape[2:])

    def _pads(self, h: int, w: int) -> tuple[Any, Any]:
        (bh, ah), (bw, aw) = pad_widths(self.kernel.shape)
        return pad_matrix(h, bh, ah, self.boundary), pad_matrix(w, bw, aw, self.boundary)

    def A(self, x: np.ndarray) -> np.ndarray:  # noqa: N802
        x = _as_float(x, "x")
        if self.boundary == "valid":
            if self.output_shape(x.shape)[0] < 1 or self.output_shape(x.shape)[1] < 1:
                raise ShapeError(
                    f"BlurOperator(valid): kernel {self.kernel.shape} larger than x {x.shape}."
                )
        else:
            ph, pw = self._pads(x.shape[0], x.shape[1])
            x = apply_along(pw, apply_along(ph, x, 0), 1)
        return conv_valid(x, self.kernel)

    def A_adjoint(self, y: np.ndarray, *, in_shape: Shape | None = None) -> np.ndarray:  # noqa: N802
        y = _as_float(y, "y")
        shape = self._adjoint_shape(y, in_shape)
        z = conv_valid_adjoint(y, self.kernel)
        if self.boundary == "valid":
            return z
        ph, pw = self._pads(shape[0], shape[1])
        return apply_along(pw.T, apply_along(ph.T, z, 0), 1)


class ResizeOperator(LinearOperator):
    """MATLAB ``imresize`` by ``scale`` in float64 (:func:`restora.degrade.imresize`), as matrices.

    ``A(x) = Mh @ x @ Mw^T`` per channel with ``M = resize_matrix(...)``; the adjoint uses
    the transposes. ``output_shape`` is ``ceil(scale * size)``.
    """

    def __init__(
        self,
        scale: float,
        *,
        kernel: str = "bicubic",
        antialias: bool = True,
        boundary: str = "replicate",
    ) -> None:
        self.scale = check_number(scale, name="scale", minimum=0.0, strict=True)
        self.kernel = kernel
        self.antialias = antialias
        self.boundary = boundary
        resize_matrix(1, 1, 1.0, kernel, antialias, boundary=boundary)  # validate early
        self._cache: dict[int, Any] = {}

    def _matrix(self, n: int) -> Any:
        if n not in self._cache:
            self._cache[n] = resize_matrix(
                n,
                math.ceil(self.scale * n),
                self.scale,
                self.kernel,
                self.antialias,
                boundary=self.boundary,
                sparse=True,
            )
        return self._cache[n]

    def output_shape(self, in_shape: Shape) -> Shape:
        return (
            math.ceil(self.scale * in_shape[0]),
            math.ceil(self.scale * in_shape[1]),
        ) + tuple(in_shape[2:])

    def input_shape(self, out_shape: Shape) -> Shape:
        dims = []
        for n_out in out_shape[:2]:
            n_in = max(1, round(n_out / self.scale))
            if math.ceil(self.scale * n_in) != n_out:
                raise ShapeError(
                    f"ResizeOperator(scale={self.scale:g}): no natural input size gives output "
                    f"size {n_out}; pass in_shape= to A_adjoint."
                )
            dims.append(n_in)
        return tuple(dims) + tuple(out_shape[2:])

    def A(self, x: np.ndarray) -> np.ndarray:  # noqa: N802
        x = _as_float(x, "x")
        return apply_along(self._matrix(x.shape[1]), apply_along(self._matrix(x.shape[0]), x, 0), 1)

    def A_adjoint(self, y: np.ndarray, *, in_shape: Shape | None = None) -> np.ndarray:  # noqa: N802
        y = _as_float(y, "y")
        shape = self._adjoint_shape(y, in_shape)
        mh, mw = self._matrix(shape[0]), self._matrix(shape[1])
        return apply_along(mw.T, apply_along(mh.T, y, 0), 1)


class DownsampleOperator(LinearOperator):
    """Keep every ``factor``-th pixel from the top-left (``x[::s, ::s]``); no prefilter.

    The adjoint puts ``y`` back on that grid and fills the other pixels with zeros.
    """

    def __init__(self, factor: int) -> None:
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise InvalidParameterError(f"factor: expected a positive integer, got {factor!r}.")
        self.factor = int(factor)

    def output_shape(self, in_shape: Shape) -> Shape:
        s = self.factor
        return (-(-in_shape[0] // s), -(-in_shape[1] // s)) + tuple(in_shape[2:])

    def input_shape(self, out_shape: Shape) -> Shape:
        return (out_shape[0] * self.factor, out_shape[1] * self.factor) + tuple(out_shape[2:])

    def A(self, x: np.ndarray) -> np.ndarray:  # noqa: N802
        x = _as_float(x, "x")
        return x[:: self.factor, :: self.factor].copy()

    def A_adjoint(self, y: np.ndarray, *, in_shape: Shape | None = None) -> np.ndarray:  # noqa: N802
        y = _as_float(y, "y")
        out = np.zeros(self._adjoint_shape(y, in_shape))
        out[:: self.factor, :: self.factor] = y
        return out


class MaskOperator(LinearOperator):
    """Multiply by a mask (inpainting): ``mask`` HW (shared by the channels) or HWC.

    Self-adjoint. A 0/1 mask keeps or drops pixels; any real weights work.
    """

    def __init__(self, mask: np.ndarray) -> None:
        m = np.asarray(mask, dtype=np.float64)
        if m.ndim not in (2, 3):
            raise ShapeError(f"mask: expected an HW or HWC array, got shape {m.shape}.")
        self.mask = m.copy()

    def _check(self, x: np.ndarray) -> np.ndarray:
        m = self.mask
        ok = m.shape[:2] == x.shape[:2] and (
            m.ndim == 2 or (x.ndim == 3 and m.shape[2] in (1, x.shape[2]))
        )
        if not ok:
            raise ShapeError(
                f"MaskOperator: mask {m.shape} does not fit an array of shape {x.shape}."
            )
        return m[:, :, None] if (m.ndim == 2 and x.ndim == 3) else m

    def A(self, x: np.ndarray) -> np.ndarray:  # noqa: N802
        x = _as_float(x, "x")
        return x * self._check(x)

    def A_adjoint(self, y: np.ndarray, *, in_shape: Shape | None = None) -> np.ndarray:  # noqa: N802
        y = _as_float(y, "y")
        self._adjoint_shape(y, in_shape)
        return y * self._check(y)


class ComposeOperator(LinearOperator):
    """Apply ``ops`` one after the other, in the order given (a pipeline).

    ``ComposeOperator(blur_op, down_op)(x) == down_op(blur_op(x))``; the adjoint runs the
    adjoints in reverse order.
    """

    def __init__(self, *ops: LinearOperator) -> None:
        if not ops or not all(isinstance(op, LinearOperator) for op in ops):
            raise InvalidParameterError(
                "ComposeOperator: expected one or more LinearOperator instances, "
                f"got {[type(op).__name__ for op in ops]}."
            )
        self.ops = tuple(ops)

    def output_shape(self, in_shape: Shape) -> Shape:
        shape = tuple(in_shape)
        for op in self.ops:
            shape = op.output_shape(shape)
        return shape

    def input_shape(self, out_shape: Shape) -> Shape:
        shape = tuple(out_shape)
        for op in reversed(self.ops):
            shape = op.input_shape(shape)
        return shape

    def A(self, x: np.ndarray) -> np.ndarray:  # noqa: N802
        x = _as_float(x, "x")
        for op in self.ops:
            x = op.A(x)
        return x

    def A_adjoint(self, y: np.ndarray, *, in_shape: Shape | None = None) -> np.ndarray:  # noqa: N802
        y = _as_float(y, "y")
        shapes = [self._adjoint_shape(y, in_shape)]
        for op in self.ops[:-1]:
            shapes.append(op.output_shape(shapes[-1]))
        for op, shape in zip(reversed(self.ops), reversed(shapes), strict=True):
            y = op.A_adjoint(y, in_shape=shape)
        return y


#: Channel (0=R, 1=G, 2=B) of the 2x2 Bayer cell positions (0,0), (0,1), (1,0), (1,1).
BAYER_PATTERNS: dict[str, tuple[int, int, int, int]] = {
    "RGGB": (0, 1, 1, 2),
    "BGGR": (2, 1, 1, 0),
    "GRBG": (1, 0, 2, 1),
    "GBRG": (1, 2, 0, 1),
}


class MosaicOperator(LinearOperator):
    """Bayer colour filter array: RGB ``H x W x 3`` -> mosaic ``H x W x 1``.

    pattern: the 2x2 cell read row by row ("RGGB": R at (0, 0), G at (0, 1) and (1, 0), B
    at (1, 1)); one of :data:`BAYER_PATTERNS`. ``A`` keeps at each pixel the channel its
    filter passes; ``A_adjoint`` puts each sample back in its channel, zeros elsewhere.
    """

    def __init__(self, pattern: str = "RGGB") -> None:
        key = str(pattern).upper()
        if key not in BAYER_PATTERNS:
            raise InvalidParameterError(
                f"MosaicOperator: pattern must be one of {', '.join(BAYER_PATTERNS)}; "
                f"got {pattern!r}."
            )
        self.pattern = key

    def channel_mask(self, h: int, w: int) -> np.ndarray:
        """``H x W x 3`` float64 0/1 array: 1 where the channel is sampled (``A^T A``)."""
        m = np.zeros((h, w, 3))
        for pos, ch in enumerate(BAYER_PATTERNS[self.pattern]):
            m[pos // 2 :: 2, pos % 2 :: 2, ch] = 1.0
        return m

    def output_shape(self, in_shape: Shape) -> Shape:
        return (in_shape[0], in_shape[1], 1)

    def input_shape(self, out_shape: Shape) -> Shape:
        return (out_shape[0], out_shape[1], 3)

    def A(self, x: np.ndarray) -> np.ndarray:
        x = _as_float(x, "x")
        if x.ndim != 3 or x.shape[2] != 3:
            raise ShapeError(f"MosaicOperator: x must be an H x W x 3 RGB array, got {x.shape}.")
        return np.sum(x * self.channel_mask(x.shape[0], x.shape[1]), axis=2, keepdims=True)

    def A_adjoint(self, y: np.ndarray, *, in_shape: Shape | None = None) -> np.ndarray:
        y = _as_float(y, "y")
        if y.ndim == 2:
            y = y[:, :, None]
        if y.shape[2] != 1:
            raise ShapeError(f"MosaicOperator: y must be an H x W x 1 mosaic, got {y.shape}.")
        self._adjoint_shape(y, in_shape)
        return y * self.channel_mask(y.shape[0], y.shape[1])


def task_operator(
    task: str,
    *,
    kernel: np.ndarray | None = None,
    scale: int | None = None,
    missing: np.ndarray | None = None,
    pattern: str = "RGGB",
) -> LinearOperator:
    """The forward model ``A`` of a restoration task (circular boundaries, as DPIR):

    * ``deblur``: blur by ``kernel``;
    * ``upscale``: blur by ``kernel`` (default a Gaussian of std ``0.5 * scale``), then keep
      every ``scale``-th pixel;
    * ``inpaint``: keep the pixels where ``missing`` (HW, True = to fill) is False;
    * ``demosaic``: a Bayer colour filter array of ``pattern``.
    """
    if task == "deblur":
        return BlurOperator(kernel)  # type: ignore[arg-type]
    if task == "upscale":
        if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
            raise InvalidParameterError(f"upscale: scale must be an integer >= 1; got {scale!r}")
        k = gaussian_kernel(0.5 * int(scale)) if kernel is None else kernel
        return ComposeOperator(BlurOperator(k), DownsampleOperator(int(scale)))
    if task == "inpaint":
        m = np.asarray(missing)
        if m.ndim == 3 and m.shape[2] == 1:
            m = m[:, :, 0]
        return MaskOperator(~m.astype(bool))
    if task == "demosaic":
        return MosaicOperator(pattern)
    raise InvalidParameterError(
        f"no forward model for task {task!r}: use deblur, upscale, inpaint or demosaic")


#: How a blur meets the image border: ``unknown`` (a photo: the scene goes on beyond the
#: frame) or ``circular`` (a periodic blur, the synthetic benchmark protocol).
BOUNDARIES = ("unknown", "circular")


@dataclass(frozen=True)
class BlurProblem:
    """A blurred observation set up for a circular (FFT) solver: ``y`` and ``operator`` to
    solve with, an optional start ``init`` for ``x``, and ``crop`` (row and column slices)
    that cut the estimate back to the photo's frame."""

    y: np.ndarray
    operator: LinearOperator
    init: np.ndarray | None
    crop: tuple[slice, slice]


def blur_problem(y: np.ndarray, kernel: np.ndarray, *, scale: int = 1,
                 boundary: str = "unknown") -> BlurProblem:
    """Deblurring (``scale`` 1) or blur-then-decimate super-resolution of an HWC photo ``y``.

    ``circular``: ``A`` is the circular blur (exact FFT data steps, as DPIR), for periodic
    observations. ``unknown``: for deblurring, the estimate lives on a grid larger than the
    photo by the kernel, ``A`` is the circular blur on that grid seen through a mask of the
    photo's pixels (so nothing is assumed of the scene beyond the frame: the valid-convolution
    model, solved by FFT-preconditioned conjugate gradient), and ``x`` starts as the photo
    mirrored outwards; for super-resolution, the photo is mirrored by the kernel's reach
    before the circular model (exact for the symmetric kernels SR uses).
    """
    if boundary not in BOUNDARIES:
        raise InvalidParameterError(
            f"boundary must be one of {', '.join(BOUNDARIES)}; got {boundary!r}")
    y = np.asarray(y, dtype=np.float64)
    h, w = y.shape[:2]
    if scale == 1:
        if boundary == "circular":
            return BlurProblem(y, BlurOperator(kernel), None, (slice(0, h), slice(0, w)))
        from scipy.fft import next_fast_len

        kh, kw = np.shape(kernel)
        top, left = kh - 1 - kh // 2, kw - 1 - kw // 2  # where the valid outputs sit
        # the grid: at least the valid-convolution support, rounded up to a fast FFT size
        # (the extra rows and columns are unobserved too: the model is the same)
        gh, gw = next_fast_len(h + kh - 1, real=True), next_fast_len(w + kw - 1, real=True)
        widths = ((top, gh - h - top), (left, gw - w - left)) + ((0, 0),) * (y.ndim - 2)
        frame = (slice(top, top + h), slice(left, left + w))
        observed = np.zeros((gh, gw), bool)
        observed[frame] = True
        big = np.zeros(observed.shape + y.shape[2:])
        big[frame] = y
        operator = ComposeOperator(BlurOperator(kernel), MaskOperator(observed))
        return BlurProblem(big, operator, np.pad(y, widths, mode="symmetric"), frame)
    down = ComposeOperator(BlurOperator(kernel), DownsampleOperator(int(scale)))
    if boundary == "circular":
        return BlurProblem(y, down, None, (slice(0, h * scale), slice(0, w * scale)))
    pad = -(-max(np.shape(kernel)) // int(scale)) + 1
    widths = ((pad, pad), (pad, pad)) + ((0, 0),) * (y.ndim - 2)
    inner = (slice(pad * scale, (pad + h) * scale), slice(pad * scale, (pad + w) * scale))
    return BlurProblem(np.pad(y, widths, mode="symmetric"), down, None, inner)
