"""Run an image-to-image function on arbitrarily large images in overlapping, blended tiles.

The engine streams: tiles are read as views of the input, processed one (or ``batch``) at a
time in raster order, weighted and added straight into the output array. Because the blend
weights are separable and laid out on a fixed grid, their per-pixel sum is the product of
two 1-D profiles, known before the first tile runs; every tile is therefore written already
normalised and no full-size weight or accumulator image is ever allocated.

Working memory beyond the input and ``out`` (exactly, for ``batch=1``):

* one input tile: ``tile_h x tile_w x C_in`` float32 (a contiguous copy, padded up to
  ``multiple`` when the image is smaller than the tile or at the far edge),
* whatever ``fn`` allocates, at least its result ``tile_h*s x tile_w*s x C_out``,
* one weighted copy of that result plus a 2-D weight tile ``tile_h*s x tile_w*s`` float32,
* 1-D weight profiles of ``O((H + W) * s)`` float64 numbers (a few hundred kB at most).

This is ``O(tile^2 * s^2 * C)``, independent of the image size (times ``batch`` when
batching). ``out`` may be an ``np.memmap`` so that a 100-megapixel result never needs to be
in RAM: rows above the current tile row's blend region are final once that row of tiles is
done, and overlap rows are read back and added to once.

:func:`stream_tiled` needs no output image at all: it accumulates into a band of one tile
row's height (``tile_h*s x W*s x C_out`` float32) and hands every row to a ``sink`` as soon as
no later tile touches it, top to bottom. With 8/16-bit input samples (converted to float32
tile by tile) and a sink that quantises into the output file's samples, a 100-megapixel
photo runs in the memory of its 8-bit input and output plus one band
(:meth:`restora.run.Restorer.run_file`).

With ``device=`` (a GPU), :func:`stream_tiled` keeps the tiles on that torch device: the
same plan (:class:`_Plan`: tiles, weights, final rows) and loop (:func:`_run`), with each
row of tiles' input rows uploaded once and the band held on the device, so the host does
one upload per tile row and the sink's quantisation, instead of per-tile copies and blending
that would cost more than the network there.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from restora.errors import InvalidParameterError, ShapeError
from restora.io.bridge import (
    from_float32,
    hwc_rows_to_numpy,
    hwc_rows_to_samples,
    to_device_chw,
    to_float32,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "Tile", "crop_to", "pad_to_multiple", "run_tiled", "stream_tiled", "tile_count", "tile_grid",
    "tile_sides",
]

PAD_MODES = ("reflect", "symmetric", "edge", "constant")

TileFn = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[int, int], None]
#: ``sink(y0, rows)``: output rows ``y0 .. y0 + len(rows)`` (HWC float32, final, not clipped);
#: ``rows`` is a view into the working band, valid only during the call.
Sink = Callable[[int, np.ndarray], None]
#: Integer samples accepted as input (converted to float32 in [0, 1] tile by tile).
SAMPLE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


# --- small helpers ------------------------------------------------------------------------


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterError(
            f"{name} must be an integer >= {minimum}; got {value!r} ({type(value).__name__})"
        )
    if value < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def _check_pad_mode(mode: str) -> None:
    if mode not in PAD_MODES:
        raise InvalidParameterError(
            f"pad_mode must be one of {', '.join(PAD_MODES)}; got {mode!r}"
        )


def pad_to_multiple(
    image: np.ndarray, multiple: int, mode: str = "reflect"
) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad the bottom and right of ``image`` so height and width are multiples of ``multiple``.

    image: HW or HWC (any dtype); never mutated. mode: ``numpy.pad`` mode, one of
    ``reflect`` (mirror without repeating the edge pixel), ``symmetric``, ``edge``,
    ``constant`` (zeros). Returns ``(padded, (h, w))`` with the original size, to undo with
    :func:`crop_to`. When nothing needs padding, ``padded`` is ``image`` itself (no copy).
    Raises ShapeError for fewer than 2 dimensions, InvalidParameterError for a bad option.
    """
    multiple = _check_int("multiple", multiple, 1)
    _check_pad_mode(mode)
    if not isinstance(image, np.ndarray) or image.ndim < 2:
        raise ShapeError(
            "pad_to_multiple expects an HW or HWC array; got "
            f"{getattr(image, 'shape', type(image).__name__)}"
        )
    h, w = image.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if ph == 0 and pw == 0:
        return image, (h, w)
    pad = [(0, ph), (0, pw)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, pad, mode=mode), (h, w)  # type: ignore[call-overload]


def crop_to(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """Top-left ``h x w`` view of an HW or HWC ``image`` (undoes :func:`pad_to_multiple`).

    Raises ShapeError when the image is smaller than ``h x w``.
    """
    h = _check_int("h", h, 0)
    w = _check_int("w", w, 0)
    if image.ndim < 2 or image.shape[0] < h or image.shape[1] < w:
        raise ShapeError(
            f"crop_to({h}, {w}) needs an image of at least {h}x{w}; got shape {image.shape}"
        )
    return image[:h, :w]


def _starts(length: int, size: int, step: int, multiple: int = 1) -> list[int]:
    """Tile starts along one axis, all multiples of ``multiple``: every ``step`` (rounded
    down to a multiple), then a last one that ends at ``length`` rounded up to a multiple.

    The last tile keeps the full ``size``; it reaches past ``length`` by less than
    ``multiple`` pixels, which are padded as the untiled image is padded. So every tile sits
    on the grid of the whole image: a network that downsamples by ``multiple`` computes in
    each tile what it computes untiled (a tile shifted off the grid gives outputs 1-3 grey
    levels apart). ``size`` is a multiple of ``multiple`` when ``size < length``. A step
    shorter than ``multiple`` (tiles of one multiple with a small overlap) is kept as is:
    neighbours then share at least the overlap, off the grid."""
    if size >= length:
        return [0]
    if step >= multiple:
        step -= step % multiple
    last = length + (-length % multiple) - size
    return list(range(0, last, step)) + [last]


Tile = int | tuple[int, int] | None
"""A tile size: one side for square tiles, ``(height, width)`` for rectangles, ``None`` for
the whole image in one call."""


def tile_sides(tile: int | tuple[int, int]) -> tuple[int, int]:
    """``(height, width)`` of a tile given as one side or as a pair (not checked)."""
    if isinstance(tile, (tuple, list)):
        return int(tile[0]), int(tile[1])
    return int(tile), int(tile)


def tile_grid(
    height: int, width: int, *, tile: Tile = 512, overlap: int = 32, multiple: int = 1
) -> tuple[list[int], list[int], int, int]:
    """The tiles :func:`run_tiled` uses: ``(row_starts, col_starts, tile_h, tile_w)``.

    ``tile`` (one side, or ``(height, width)``) is rounded down to a multiple of
    ``multiple``, then clipped to the image; tiles step by ``side - overlap`` (rounded down
    to a multiple of ``multiple``) along each axis and the last row/column is shifted inward
    to stay full size, to the first multiple of ``multiple`` from which it covers the image
    (it may reach up to ``multiple - 1`` pixels past the far edge: those are padded).
    """
    if tile is None:
        return [0], [0], height, width
    side_h, side_w = tile_sides(tile)
    eff_h, eff_w = side_h - side_h % multiple, side_w - side_w % multiple
    th, tw = min(eff_h, height), min(eff_w, width)
    return (_starts(height, th, eff_h - overlap, multiple),
            _starts(width, tw, eff_w - overlap, multiple), th, tw)


def _profile(overlap_out: int) -> np.ndarray:
    """Rising blend edge over ``overlap_out`` output pixels: zeros on the outer quarter, a
    raised-cosine ramp on the middle half, ones on the inner quarter.

    Two neighbours offset by exactly the overlap see this profile and its mirror, which sum
    to 1 (sin^2 + cos^2); the zero quarter drops the pixels next to an internal tile edge,
    which are the ones a local operator gets wrong."""
    margin = overlap_out // 4
    ramp = overlap_out - 2 * margin
    t = (np.arange(ramp) + 0.5) / ramp
    return np.concatenate([np.zeros(margin), np.sin(0.5 * np.pi * t) ** 2, np.ones(margin)])


def _axis_weights(
    starts: list[int], size: int, length: int, overlap: int, scale: int
) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """Per-tile normalised 1-D weights in output pixels, and each one's nonzero range."""
    n_out = size * scale
    edge = _profile(overlap * scale) if overlap > 0 else np.zeros(0)
    windows = []
    for start in starts:
        win = np.ones(n_out)
        if start > 0 and edge.size:  # internal top/left edge: blend
            win[: edge.size] = edge
        if start + size < length and edge.size:  # internal bottom/right edge
            win[n_out - edge.size :] = np.minimum(win[n_out - edge.size :], edge[::-1])
        windows.append(win)
    total = np.zeros(max(length, starts[-1] + size) * scale)
    for start, win in zip(starts, windows):
        total[start * scale : start * scale + n_out] += win
    if not np.all(total > 0):  # cannot happen while tile > 2 * overlap
        raise AssertionError("tiling left output pixels without weight")
    normed, ranges = [], []
    for start, win in zip(starts, windows):
        w = win / total[start * scale : start * scale + n_out]
        nz = np.flatnonzero(w[: (length - start) * scale])  # padding past the edge: dropped
        ranges.append((int(nz[0]), int(nz[-1]) + 1))
        normed.append(w.astype(np.float32))
    return normed, ranges


# --- the engine ---------------------------------------------------------------------------


def run_tiled(
    fn: TileFn,
    image: np.ndarray,
    *,
    tile: Tile = 512,
    overlap: int = 32,
    scale: int = 1,
    multiple: int = 1,
    out: np.ndarray | None = None,
    pad_mode: str = "reflect",
    progress: Progress | None = None,
    batch: int = 1,
) -> np.ndarray:
    """Apply ``fn`` to ``image`` in overlapping tiles, blended without seams, streaming.

    fn: HWC float32 -> HWC array of ``h*scale x w*scale x C_out`` (C_out may differ from C_in;
        read from the first tile). It receives a fresh contiguous float32 copy of each tile,
        which it may modify. With ``batch > 1`` it receives NHWC stacks of up to ``batch``
        tiles (all the same size) and must return NHWC.
    image: HWC floating-point array, e.g. float32 in [0, 1], or 8/16-bit samples (uint8 /
        uint16, given to ``fn`` as k/255 or k/65535); never copied whole nor mutated.
    tile: tile side in input pixels, or ``(height, width)`` for rectangular tiles (``None``
        = the whole image in one call). Rounded down to a multiple of ``multiple`` and
        clipped to the image; edge tiles are shifted inward to keep full size, to a start on
        the ``multiple`` grid (:func:`tile_grid`). Each side must exceed ``2 * overlap``.
    overlap: input pixels shared by neighbouring tiles. Inside an overlap the outer quarter
        of each tile is discarded and the middle half is cross-faded with a raised cosine, so
        any operator whose output depends only on input within ``overlap // 4`` pixels (its
        halo) gives exactly the untiled result; larger halos give small blended errors.
        Image borders are never faded.
    scale: output pixels per input pixel (upscalers); windows and positions scale with it.
    multiple: tile height and width passed to ``fn`` are multiples of this, and tiles start
        on multiples of it; a tile that is smaller (image smaller than ``tile``) or reaches
        past the far edge is padded with ``pad_mode`` there and cropped back, as the
        untiled image would be.
    out: optional float32 array (or ``np.memmap``) of shape ``(H*scale, W*scale, C_out)``
        to write into; its old contents are ignored. Allocated (zeros) when None.
    progress: called as ``progress(done, total)`` after each tile.
    batch: tiles per ``fn`` call (see ``fn``).

    Returns ``out``: float32 ``(H*scale, W*scale, C_out)``. Extra memory is bounded by the
    tile size, not the image size: see the module docstring.
    Raises ShapeError (bad image, ``fn`` result or ``out`` shape: expected vs actual) and
    InvalidParameterError (bad option).
    """
    plan = _plan(fn, image, tile=tile, overlap=overlap, scale=scale, multiple=multiple,
                 pad_mode=pad_mode, progress=progress, batch=batch)
    target = _Whole(out, image)
    _run(fn, plan, _HostTiles(image, plan), target, progress)
    assert target.out is not None
    return target.out


def stream_tiled(
    fn: TileFn | Callable[[torch.Tensor], torch.Tensor],
    image: np.ndarray,
    *,
    sink: Sink,
    tile: Tile = 512,
    overlap: int = 32,
    scale: int = 1,
    multiple: int = 1,
    pad_mode: str = "reflect",
    progress: Progress | None = None,
    batch: int = 1,
    device: str | None = None,
    out_dtype: Any = None,
) -> tuple[int, int, int]:
    """:func:`run_tiled` without an output image: final rows go to ``sink(y0, rows)``.

    Rows arrive top to bottom, each exactly once, as soon as no later tile touches them;
    ``rows`` is float32 HWC (not clipped), a view valid only during the call (copy or
    quantise it). The working band is one tile row high: ``tile_h*scale x W*scale x C_out``
    float32, whatever the image height. Other arguments as :func:`run_tiled`; the values
    are the same as its result's rows. Returns the output shape ``(H*scale, W*scale, C_out)``.

    device: ``None`` (tiles are numpy arrays, ``fn`` as :func:`run_tiled` says), or a torch
    device (a GPU) on which the tiles stay: ``fn`` then takes an (N, C_in, h, w) float32
    tensor on it (N up to ``batch`` tiles of one tile row) and returns (N, C_out, h*scale,
    w*scale) there. Each row of tiles is one upload of the input rows it covers, padded as a
    whole to ``multiple`` (the numpy engine pads each tile: the same values wherever a tile
    is at least ``2 * multiple`` wide); 8/16-bit samples cross as they are and become floats
    on the device (:func:`~restora.io.bridge.to_device_chw`). Cutting, weighting and the
    working band stay on the device; only finished rows come down, the same rows as the
    numpy engine's up to the device's float arithmetic.

    out_dtype: ``None`` (rows as float32), or ``numpy.uint8`` / ``numpy.uint16``: rows reach
    the sink as samples, quantised as :func:`~restora.io.from_float32` does (on the device,
    where one is given: a quarter of the bytes come down for 8-bit).
    """
    if not callable(sink):
        raise InvalidParameterError(f"sink must be callable; got {sink!r}")
    plan = _plan(fn, image, tile=tile, overlap=overlap, scale=scale, multiple=multiple,
                 pad_mode=pad_mode, progress=progress, batch=batch)
    if out_dtype is not None and _dtype_or_none(out_dtype) not in (np.uint8, np.uint16):
        raise InvalidParameterError(f"out_dtype must be None, numpy.uint8 or numpy.uint16; got {out_dtype!r}")
    if device is None:
        emit = _identity if out_dtype is None else partial(from_float32, dtype=out_dtype)
        target = _Band(sink, np.array, emit)
        _run(fn, plan, _HostTiles(image, plan), target, progress)
    else:
        import torch

        try:
            where = torch.device(device)
        except (RuntimeError, TypeError):
            raise InvalidParameterError(
                f"device must be None or a torch device such as 'cuda' or 'cuda:0'; got {device!r}"
            ) from None
        emit = hwc_rows_to_numpy if out_dtype is None else partial(hwc_rows_to_samples, dtype=out_dtype)
        target = _Band(sink, torch.clone, emit)
        _run(fn, plan, _DeviceTiles(image, plan, where), target, progress)
    return target.finish()


def _identity(rows: np.ndarray) -> np.ndarray:
    return rows


def _dtype_or_none(value: Any) -> np.dtype | None:
    try:
        return np.dtype(value)
    except TypeError:
        return None


class _Whole:
    """Accumulates into a whole output image (the caller's ``out`` or a new one)."""

    def __init__(self, out: np.ndarray | None, image: np.ndarray) -> None:
        self.out, self.image = out, image
        self.zeroed_to = 0  # rows of a caller's ``out`` above this are zeroed (or written)

    def start(self, shape: tuple[int, int, int], band: int,
              zeros: Callable[[tuple[int, ...]], np.ndarray]) -> None:
        if self.out is None:
            self.out = zeros(shape)
            self.zeroed_to = shape[0]
        else:
            _check_out(self.out, shape, self.image)

    def rows(self, y0: int, y1: int, final_below: int) -> np.ndarray:
        assert self.out is not None
        if y1 > self.zeroed_to:
            self.out[self.zeroed_to : y1] = 0
            self.zeroed_to = y1
        return self.out[y0:y1]


class _Band:
    """Accumulates into a band of rows; rows no later tile touches go to the sink.

    The band is the engine's array type (numpy, or a torch tensor on a device): ``copy``
    copies a slice of it, ``emit`` turns rows of it into the HWC numpy rows the sink
    receives (float32, or samples: ``stream_tiled``'s ``out_dtype``)."""

    def __init__(self, sink: Sink, copy: Callable[[Any], Any],
                 emit: Callable[[Any], np.ndarray]) -> None:
        self.sink, self.copy, self.emit = sink, copy, emit
        self.band: Any = None
        self.top = 0  # output row of band[0]
        self.used = 0  # band rows holding sums (the rest is zero)
        self.shape = (0, 0, 0)

    def start(self, shape: tuple[int, int, int], band: int,
              zeros: Callable[[tuple[int, ...]], Any]) -> None:
        self.shape = shape
        self.band = zeros((min(band, shape[0]),) + shape[1:])

    def _flush(self, below: int) -> None:
        assert self.band is not None
        n = below - self.top
        if n <= 0:
            return
        self.sink(self.top, self.emit(self.band[:n]))
        keep = self.used - n
        if keep > 0:
            self.band[:keep] = self.copy(self.band[n : self.used])
        self.band[max(keep, 0) : self.used] = 0
        self.top, self.used = below, max(keep, 0)

    def rows(self, y0: int, y1: int, final_below: int) -> Any:
        assert self.band is not None
        if y1 - self.top > len(self.band):
            self._flush(final_below)
        if y1 - self.top > len(self.band):  # cannot happen: a band is one tile row high
            raise AssertionError("tile rows outgrew the band")
        self.used = max(self.used, y1 - self.top)
        return self.band[y0 - self.top : y1 - self.top]

    def finish(self) -> tuple[int, int, int]:
        if self.band is not None:
            self.used = max(self.used, self.shape[0] - self.top)
            self._flush(self.shape[0])
        return self.shape


def _check_tile(tile: object, overlap: int, multiple: int) -> int | tuple[int, int]:
    """A checked tile: an integer side or a ``(height, width)`` pair, each side at least
    ``multiple`` and, rounded down to it, larger than ``2 * overlap``."""
    if isinstance(tile, (tuple, list)):
        if len(tile) != 2:
            raise InvalidParameterError(
                f"tile must be one side or a (height, width) pair; got {tile!r}")
        sides = [_check_int("tile", side, 1) for side in tile]
    else:
        sides = [_check_int("tile", tile, 1)]
    for side in sides:
        if side < multiple:
            raise InvalidParameterError(
                f"tile={side} is smaller than multiple={multiple}; give tile >= {multiple}"
            )
        eff = side - side % multiple
        if eff <= 2 * overlap:
            rounded = f" (rounded down to a multiple of {multiple}: {eff})" if eff != side else ""
            raise InvalidParameterError(
                f"tile={side}{rounded} must be larger than 2*overlap={2 * overlap} "
                f"(overlap {overlap} on each side); use tile > {2 * overlap} or a smaller overlap"
            )
    return (sides[0], sides[1]) if len(sides) == 2 else sides[0]


@dataclass(frozen=True)
class _Plan:
    """The checked arguments of one tiled run and its grid: tile starts, tile size (``th x
    tw``, padded to ``ph x pw``), per-axis normalised weights with their nonzero ranges, and
    ``final[i]``: the output rows above it are touched by no tile of row ``i`` or later."""

    height: int
    width: int
    scale: int
    multiple: int
    pad_mode: str
    batch: int
    rows: list[int]
    cols: list[int]
    th: int
    tw: int
    ph: int
    pw: int
    wy: list[np.ndarray]
    ry: list[tuple[int, int]]
    wx: list[np.ndarray]
    rx: list[tuple[int, int]]
    final: list[int]

    @property
    def tiles(self) -> list[tuple[int, int]]:
        """``(row index, column index)`` of every tile, in raster order."""
        return [(i, j) for i in range(len(self.rows)) for j in range(len(self.cols))]


def _plan(fn: Callable[..., Any], image: np.ndarray, *, tile: Tile, overlap: int, scale: int,
          multiple: int, pad_mode: str, progress: Progress | None, batch: int) -> _Plan:
    """Check the arguments of a tiled run (both engines) and lay out its tiles."""
    if not callable(fn):
        raise InvalidParameterError(f"fn must be callable; got {type(fn).__name__}")
    if not isinstance(image, np.ndarray) or image.ndim != 3:
        raise ShapeError(
            "image must be an HWC array (height, width, channels); got "
            f"{getattr(image, 'shape', type(image).__name__)}. "
            "For a gray HW image pass image[..., None]."
        )
    height, width, _ = image.shape
    if min(image.shape) < 1:
        raise ShapeError(f"image must be non-empty HWC; got shape {image.shape}")
    if not np.issubdtype(image.dtype, np.floating) and image.dtype not in SAMPLE_DTYPES:
        raise InvalidParameterError(
            f"image must be floating point (float32 in [0, 1]) or 8/16-bit samples (uint8, "
            f"uint16); got dtype {image.dtype}. Convert first, e.g. image.astype(np.float32)."
        )
    scale = _check_int("scale", scale, 1)
    multiple = _check_int("multiple", multiple, 1)
    overlap = _check_int("overlap", overlap, 0)
    batch = _check_int("batch", batch, 1)
    _check_pad_mode(pad_mode)
    if progress is not None and not callable(progress):
        raise InvalidParameterError(f"progress must be callable or None; got {progress!r}")
    if tile is not None:
        tile = _check_tile(tile, overlap, multiple)

    rows, cols, th, tw = tile_grid(height, width, tile=tile, overlap=overlap, multiple=multiple)
    wy, ry = _axis_weights(rows, th, height, overlap, scale)
    wx, rx = _axis_weights(cols, tw, width, overlap, scale)
    first = [rows[i] * scale + ry[i][0] for i in range(len(rows))]
    final = [min(first[i:]) for i in range(len(rows))]
    return _Plan(height, width, scale, multiple, pad_mode, batch, rows, cols, th, tw,
                 th + (-th % multiple), tw + (-tw % multiple), wy, ry, wx, rx, final)


class _HostTiles:
    """Tiles as numpy arrays: each a fresh float32 copy of its part of the input, padded on
    its own; ``fn`` takes and returns HWC (``batch`` 1) or NHWC arrays."""

    def __init__(self, image: np.ndarray, plan: _Plan) -> None:
        self.image, self.plan = image, plan

    def gather(self, chunk: list[tuple[int, int]]) -> np.ndarray:
        p, pieces = self.plan, []
        for i, j in chunk:
            view = self.image[p.rows[i] : p.rows[i] + p.th, p.cols[j] : p.cols[j] + p.tw]
            piece = to_float32(view) if view.dtype in SAMPLE_DTYPES else \
                np.array(view, dtype=np.float32, copy=True)
            pieces.append(pad_to_multiple(piece, p.multiple, p.pad_mode)[0])
        return pieces[0] if p.batch == 1 else np.stack(pieces)

    def split(self, result: object, n: int, c_out: int | None) -> list[np.ndarray]:
        p = self.plan
        return _check_result(result, p.batch, n, (p.ph * p.scale, p.pw * p.scale), (p.ph, p.pw),
                             p.scale, c_out)

    def weighted(self, res: np.ndarray, i: int, j: int) -> np.ndarray:
        """Tile ``(i, j)``'s result times its blend weights, over its nonzero window."""
        p = self.plan
        (a, b), (c, d) = p.ry[i], p.rx[j]
        weight = p.wy[i][a:b, None] * p.wx[j][None, c:d]
        return np.multiply(res[a:b, c:d], weight[..., None], dtype=np.float32)

    @staticmethod
    def zeros(shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape, dtype=np.float32)


class _DeviceTiles:
    """Tiles as torch tensors on a device: each row of tiles' input rows is uploaded once
    (:func:`~restora.io.bridge.to_device_chw`) and cut there; ``fn`` takes and returns
    NCHW tensors; results are blended as HWC views."""

    def __init__(self, image: np.ndarray, plan: _Plan, device: torch.device) -> None:
        import torch

        # the device a tensor actually lands on ("cuda" -> "cuda:0"), for the check in split()
        device = torch.empty(0, device=device).device
        self.torch, self.image, self.plan, self.device = torch, image, plan, device
        self.wy = [torch.from_numpy(w).to(device) for w in plan.wy]
        self.wx = [torch.from_numpy(w).to(device) for w in plan.wx]
        self.bands: dict[int, torch.Tensor] = {}

    def _rows(self, i: int) -> torch.Tensor:
        """Row ``i`` of tiles' input rows on the device, padded to the multiple (CHW)."""
        if i not in self.bands:
            for old in [k for k in self.bands if k < i]:
                del self.bands[old]
            p = self.plan
            rows = self.image[p.rows[i] : p.rows[i] + p.th]
            self.bands[i] = to_device_chw(pad_to_multiple(rows, p.multiple, p.pad_mode)[0],
                                          self.device)
        return self.bands[i]

    def gather(self, chunk: list[tuple[int, int]]) -> torch.Tensor:
        p = self.plan
        return self.torch.stack([self._rows(i)[:, : p.ph, p.cols[j] : p.cols[j] + p.pw]
                                 for i, j in chunk])

    def split(self, result: object, n: int, c_out: int | None) -> list[torch.Tensor]:
        p, torch = self.plan, self.torch
        expected = (n, p.ph * p.scale, p.pw * p.scale)
        if not isinstance(result, torch.Tensor) or result.ndim != 4 \
                or (result.shape[0], result.shape[2], result.shape[3]) != expected:
            got = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
            raise ShapeError(
                f"fn was given an NCHW stack of {n} tile(s) of {p.ph}x{p.pw} pixels and must "
                f"return a tensor of shape ({n}, C_out, {p.ph * p.scale}, {p.pw * p.scale}) "
                f"for scale={p.scale}; got {got}. Check that scale= matches what fn does."
            )
        if c_out is not None and result.shape[1] != c_out:
            raise ShapeError(
                f"fn returned {result.shape[1]} channels for one tile and {c_out} for an "
                "earlier one; it must return the same number of channels for every tile"
            )
        if result.device != self.device:
            raise ShapeError(f"fn must return a tensor on {self.device}; got {result.device}")
        return list(result.to(torch.float32).permute(0, 2, 3, 1))

    def weighted(self, res: torch.Tensor, i: int, j: int) -> torch.Tensor:
        p = self.plan
        (a, b), (c, d) = p.ry[i], p.rx[j]
        weight = self.wy[i][a:b, None] * self.wx[j][None, c:d]
        return res[a:b, c:d] * weight[..., None]

    def zeros(self, shape: tuple[int, ...]) -> torch.Tensor:
        return self.torch.zeros(shape, dtype=self.torch.float32, device=self.device)


def _run(fn: Callable[[Any], Any], plan: _Plan, tiles: Any, target: _Whole | _Band,
         progress: Progress | None) -> None:
    """Run every tile and add it, weighted, into ``target`` (both engines)."""
    all_tiles = plan.tiles
    total = len(all_tiles)
    c_out: int | None = None
    done = 0
    for start in range(0, total, plan.batch):
        chunk = all_tiles[start : start + plan.batch]
        given = tiles.gather(chunk)
        result = fn(given)
        del given
        results = tiles.split(result, len(chunk), c_out)
        if c_out is None:
            c_out = int(results[0].shape[-1])
            target.start((plan.height * plan.scale, plan.width * plan.scale, c_out),
                         plan.th * plan.scale, tiles.zeros)
        for (i, j), res in zip(chunk, results):
            (a, b), (c, d) = plan.ry[i], plan.rx[j]
            y0, x0 = plan.rows[i] * plan.scale, plan.cols[j] * plan.scale
            part = tiles.weighted(res, i, j)
            target.rows(y0 + a, y0 + b, plan.final[i])[:, x0 + c : x0 + d] += part
            del part
            done += 1
            if progress is not None:
                progress(done, total)
        del result, results


def _check_result(
    result: object,
    batch: int,
    n: int,
    expected: tuple[int, int],
    given: tuple[int, int],
    scale: int,
    c_out: int | None,
) -> list[np.ndarray]:
    """Check what ``fn`` returned for one call; return one HWC array per tile."""
    if not isinstance(result, np.ndarray):
        raise ShapeError(f"fn must return a numpy array; got {type(result).__name__}")
    lead = () if batch == 1 else (n,)
    ok = result.ndim == len(lead) + 3 and result.shape[: len(lead) + 2] == lead + expected
    if ok and c_out is not None and result.shape[-1] != c_out:
        raise ShapeError(
            f"fn returned {result.shape[-1]} channels for one tile and {c_out} for an earlier "
            "one; it must return the same number of channels for every tile"
        )
    if not ok:
        layout = "HWC" if batch == 1 else "NHWC"
        want = ", ".join(str(v) for v in lead + expected) + ", C_out"
        raise ShapeError(
            f"fn was given a {layout} tile of {given[0]}x{given[1]} pixels and must return "
            f"{layout} of shape ({want}) for scale={scale}; got shape {result.shape}. "
            "Check that scale= matches what fn does."
        )
    if batch == 1:
        return [result]
    return list(result)


def _check_out(out: np.ndarray, shape: tuple[int, int, int], image: np.ndarray) -> None:
    if not isinstance(out, np.ndarray):
        raise InvalidParameterError(f"out must be a numpy array or memmap; got {type(out)}")
    if out.shape != shape:
        raise ShapeError(
            f"out must have shape (H*scale, W*scale, C_out) = {shape}; got {out.shape}"
        )
    if out.dtype != np.float32:
        raise InvalidParameterError(f"out must be float32 (it accumulates); got {out.dtype}")
    if not out.flags.writeable:
        raise InvalidParameterError("out must be writeable; got a read-only array")
    if np.may_share_memory(out, image):
        raise InvalidParameterError(
            "out must not share memory with image (tiles are read after output is written); "
            "give a separate array"
        )


def tile_count(
    height: int, width: int, *, tile: Tile = 512, overlap: int = 32, multiple: int = 1
) -> int:
    """Number of tiles (and ``progress`` steps) :func:`run_tiled` uses for an image."""
    rows, cols, _, _ = tile_grid(height, width, tile=tile, overlap=overlap, multiple=multiple)
    return len(rows) * len(cols)

