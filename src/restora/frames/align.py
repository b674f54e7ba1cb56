"""Register frames of one scene to a reference frame.

Every aligner answers one question: where does each reference pixel lie in the frame? A
global aligner answers with a 2x3 affine ``matrix`` (reference ``(x, y, 1)`` -> frame
``(x', y')``, pixels; OpenCV's ``WARP_INVERSE_MAP`` convention), the tile aligner with a
dense ``flow`` (HW2 float32, ``(dx, dy)`` added to each reference pixel's position).
:func:`warp` resamples the frame onto the reference grid, so that ``warp(frame)(x) =
frame(x + displacement)`` matches ``reference(x)``.

- ``mtb``: median threshold bitmaps (Ward, "Fast, Robust Image Registration for Compositing
  High Dynamic Range Photographs from Hand-Held Exposures", JGT 2003), OpenCV's AlignMTB:
  integer translations, invariant to exposure.
- ``ecc``: OpenCV's enhanced correlation coefficient (Evangelidis & Psarakis, PAMI 2008),
  coarse to fine, started from MTB: a sub-pixel Euclidean motion (shift + rotation),
  invariant to gain and offset.
- ``tiles``: coarse-to-fine tile matching as in HDR+ (Hasinoff et al., "Burst photography
  for high dynamic range and low-light imaging on mobile cameras", SIGGRAPH Asia 2016): one
  sub-pixel translation per tile, found on a Gaussian pyramid; handles small rotations and
  local motion.

Frames are HWC (or HW) float in [0, 1] and are never modified. Frames of other exposures
are matched to the reference's histogram before ECC and tile matching.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from restora.errors import InvalidParameterError, ShapeError

#: Alignment methods, ``off`` first.
ALIGN_METHODS = ("off", "mtb", "ecc", "tiles")
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class Alignment:
    """Where the reference's pixels lie in one frame: a 2x3 ``matrix`` (global motion) or
    an HW2 ``flow`` (per pixel, from tiles); both ``None`` = identity."""

    matrix: np.ndarray | None = None
    flow: np.ndarray | None = None

    @property
    def shift(self) -> tuple[float, float]:
        """``(dx, dy)`` in pixels: the translation part (mean flow for tiles)."""
        if self.matrix is not None:
            return float(self.matrix[0, 2]), float(self.matrix[1, 2])
        if self.flow is not None:
            return float(self.flow[..., 0].mean()), float(self.flow[..., 1].mean())
        return 0.0, 0.0

    def displacement(self, height: int, width: int) -> np.ndarray:
        """The displacement of every reference pixel, HW2 float32 ``(dx, dy)`` in pixels."""
        if self.flow is not None:
            return self.flow
        if self.matrix is None:
            return np.zeros((height, width, 2), np.float32)
        y, x = np.mgrid[0:height, 0:width].astype(np.float64)
        m = self.matrix
        dx = m[0, 0] * x + m[0, 1] * y + m[0, 2] - x
        dy = m[1, 0] * x + m[1, 1] * y + m[1, 2] - y
        return np.stack([dx, dy], axis=-1).astype(np.float32)


def _hwc(image: np.ndarray, name: str = "frame") -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3) or 0 in a.shape:
        raise ShapeError(f"{name}: expected an HxW, HxWx1 or HxWx3 image, got shape {np.shape(image)}")
    return a.astype(np.float32, copy=False)


def gray(image: np.ndarray) -> np.ndarray:
    """HW float32 luma (BT.601 weights) of an HWC/HW image in [0, 1]."""
    a = _hwc(image)
    return np.ascontiguousarray(a[..., 0] if a.shape[2] == 1 else a @ _LUMA)


def match_histogram(image: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None,
                    bins: int = 1024) -> np.ndarray:
    """``image`` mapped channel by channel onto ``reference``'s histogram (its exposure).

    The mapping is the comparagram of two exposures of one scene (monotone, as camera
    responses are); each input bin goes to the reference value at its middle quantile.
    Both HWC/HW float in [0, 1] of one shape; ``mask`` (HW bool) limits the pixels the
    histograms count. Returns float32 of ``image``'s shape.
    """
    luts = intensity_mapping(image, reference, mask=mask, bins=bins)
    return apply_mapping(image, luts)


def _channel_values(image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None,
                    caller: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per channel, ``(image values, reference values)`` in [0, 1] at the ``mask`` pixels
    (all without one); the two frames must have one shape."""
    src, ref = _hwc(image), _hwc(reference, "reference")
    if src.shape != ref.shape:
        raise ShapeError(f"{caller}: shapes differ, {src.shape} vs {ref.shape}")
    keep = np.ones(src.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    return [(np.clip(src[..., c][keep], 0.0, 1.0), np.clip(ref[..., c][keep], 0.0, 1.0))
            for c in range(src.shape[2])]


def intensity_mapping(image: np.ndarray, reference: np.ndarray, *, mask: np.ndarray | None = None,
                      bins: int = 1024) -> np.ndarray:
    """Per-channel lookup tables (C x ``bins`` float32, on bin centres of [0, 1]) mapping
    ``image``'s values to ``reference``'s by histogram specification."""
    channels = _channel_values(image, reference, mask, "match_histogram")
    centres = (np.arange(bins, dtype=np.float64) + 0.5) / bins
    luts = np.empty((len(channels), bins), np.float32)
    for c, (a, b) in enumerate(channels):
        if a.size == 0:
            luts[c] = centres
            continue
        ha = np.bincount(np.minimum((a * bins).astype(np.int64), bins - 1), minlength=bins)
        hb = np.bincount(np.minimum((b * bins).astype(np.int64), bins - 1), minlength=bins)
        ca, cb = np.cumsum(ha) / a.size, np.cumsum(hb) / b.size
        middle = ca - ha / (2.0 * a.size)  # the middle quantile of each input bin
        luts[c] = np.interp(middle, cb, centres)
    return luts


def comparagram_mapping(image: np.ndarray, reference: np.ndarray, *,
                        mask: np.ndarray | None = None, bins: int = 256,
                        min_count: int = 8) -> np.ndarray:
    """Per-channel lookup tables (C x ``bins`` float32, on bin centres of [0, 1]) mapping
    ``image``'s values to ``reference``'s for frames that are *aligned*: the non-decreasing
    curve through the comparagram (the joint histogram of the two exposures; Mann 2000) that
    is closest in median (pool-adjacent-violators on bin medians, each pool taking the
    median of all its pixels). A moving object is a minority in the pools it joins, so it
    does not bend the curve as it bends the histogram matching of :func:`intensity_mapping`.
    Bins with fewer than ``min_count`` pixels are interpolated."""
    channels = _channel_values(image, reference, mask, "comparagram_mapping")
    centres = (np.arange(bins, dtype=np.float64) + 0.5) / bins
    luts = np.empty((len(channels), bins), np.float32)
    for c, (a, b) in enumerate(channels):
        index = np.minimum((a * bins).astype(np.int64), bins - 1)
        order = np.argsort(index, kind="stable")
        counts = np.bincount(index, minlength=bins)
        groups = np.split(b[order], np.cumsum(counts)[:-1])
        pools: list[tuple[list[int], np.ndarray, float]] = []  # (bins, values, median)
        for k in np.flatnonzero(counts >= min_count):
            pools.append(([int(k)], groups[k], float(np.median(groups[k]))))
            while len(pools) > 1 and pools[-2][2] > pools[-1][2]:
                (k1, v1, _), (k2, v2, _) = pools[-2], pools[-1]
                values = np.concatenate([v1, v2])
                pools[-2:] = [(k1 + k2, values, float(np.median(values)))]
        if not pools:
            luts[c] = centres
            continue
        known = np.array([k for ks, _, _ in pools for k in ks])
        level = np.array([m for ks, _, m in pools for _ in ks])
        luts[c] = np.interp(centres, centres[known], level)
    return luts


def apply_mapping(image: np.ndarray, luts: np.ndarray) -> np.ndarray:
    """Apply :func:`intensity_mapping`'s tables (linear interpolation between bin centres)."""
    a = _hwc(image)
    bins = luts.shape[1]
    centres = (np.arange(bins, dtype=np.float32) + 0.5) / bins
    out = np.empty(a.shape, np.float32)
    for c in range(a.shape[2]):
        out[..., c] = np.interp(a[..., c], centres, luts[c])
    return out.reshape(np.shape(image)) if np.ndim(image) == 2 else out


def mtb_shift(reference: np.ndarray, image: np.ndarray, *, max_bits: int = 6,
              exclude_range: int = 4) -> tuple[int, int]:
    """Integer ``(dx, dy)`` (pixels) with ``image(x + dx, y + dy) ~ reference(x, y)``, by
    median threshold bitmaps (OpenCV AlignMTB; shifts up to ``2**max_bits`` px).

    Frames that are mostly black or white leave the bitmaps little to go on (a dark frame's
    median sits in its noise); the shifts of AlignMTB at exclusion ranges ``exclude_range``,
    2 and 1, and no shift, are therefore compared by the correlation of the
    exposure-matched frames, and the best kept.
    """
    import cv2

    ref, img = gray(reference), gray(image)
    r8, i8 = _u8(ref), _u8(img)
    candidates = {(0, 0)}
    for exclude in {exclude_range, 2, 1}:
        sx, sy = cv2.createAlignMTB(max_bits, exclude, True).calculateShift(r8, i8)
        candidates.add((-int(sx), -int(sy)))
    if len(candidates) == 1:
        return candidates.pop()
    matched = match_histogram(img, ref)
    return max(sorted(candidates), key=lambda d: _correlation(ref, matched, d))


def _correlation(ref: np.ndarray, img: np.ndarray, shift: tuple[int, int]) -> float:
    """Correlation coefficient of ``ref(x)`` and ``img(x + shift)`` where both exist."""
    dx, dy = shift
    h, w = ref.shape
    if abs(dx) >= w - 8 or abs(dy) >= h - 8:
        return -1.0
    a = ref[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    b = img[max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)]
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12))


def ecc_matrix(reference: np.ndarray, image: np.ndarray, *, motion: str = "euclidean",
               init: np.ndarray | None = None, iterations: int = 60,
               eps: float = 1e-5) -> np.ndarray:
    """2x3 matrix (reference -> frame coordinates) maximising the enhanced correlation
    coefficient, coarse to fine (OpenCV ``findTransformECC``), on the frame matched to the
    reference's exposure. ``motion``:
    translation | euclidean | affine. ``init``: a starting matrix (default: the MTB shift).
    Where ECC does not converge the starting matrix is returned."""
    import cv2

    kinds = {"translation": cv2.MOTION_TRANSLATION, "euclidean": cv2.MOTION_EUCLIDEAN,
             "affine": cv2.MOTION_AFFINE}
    if motion not in kinds:
        raise InvalidParameterError(f"motion must be one of {', '.join(kinds)}; got {motion!r}")
    ref = gray(reference)
    img = match_histogram(gray(image), ref)
    if init is None:
        dx, dy = mtb_shift(reference, image)
        init = np.array([[1, 0, dx], [0, 1, dy]], np.float64)
    warp = np.asarray(init, np.float64).copy()
    levels = 0
    while min(ref.shape) >> (levels + 1) >= 96 and levels < 3:
        levels += 1
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, eps)
    for level in range(levels, -1, -1):
        f = 2.0**-level
        r = cv2.resize(ref, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if level else ref
        i = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if level else img
        w = warp.copy()
        w[:, 2] *= f
        try:
            _, w = cv2.findTransformECC(r, i, w.astype(np.float32), kinds[motion], criteria, None, 5)
        except cv2.error:
            continue  # did not converge at this level: keep the estimate so far
        w = np.asarray(w, np.float64)
        w[:, 2] /= f
        warp = w
    return warp


def tile_flow(reference: np.ndarray, image: np.ndarray, *, tile: int = 16, radius: int = 4,
              levels: int = 4, prefilter: float = 1.0, refine: int = 3) -> np.ndarray:
    """Dense HW2 float32 displacement ``(dx, dy)`` (pixels) from coarse-to-fine tile
    matching (HDR+): on each pyramid level every tile is matched by least squares within
    ``radius`` px of the estimate of the coarser level (1 px at the finest), to a sub-pixel
    by a parabola through the costs, and the field median-filtered; at the finest level
    ``refine`` Lucas-Kanade steps per tile polish it. The field is interpolated bilinearly
    between tile centres. ``prefilter``: Gaussian std (pixels) applied before matching,
    against noise."""
    import cv2

    ref = gray(reference)
    img = match_histogram(gray(image), ref)
    if prefilter > 0:
        ref = cv2.GaussianBlur(ref, (0, 0), prefilter)
        img = cv2.GaussianBlur(img, (0, 0), prefilter)
    height, width = ref.shape
    pyramid = [(ref, img)]
    while len(pyramid) < levels and min(pyramid[-1][0].shape) >= 8 * tile:
        r, i = pyramid[-1]
        pyramid.append((cv2.pyrDown(r), cv2.pyrDown(i)))
    field: np.ndarray | None = None
    coarse_size = 0
    for level in range(len(pyramid) - 1, -1, -1):
        r, i = pyramid[level]
        size = tile if level == 0 else max(8, tile // 2)
        field = _match_tiles(r, i, size, 1 if level == 0 else radius, field, coarse_size)
        coarse_size = size
    assert field is not None
    for _ in range(refine):
        field = _refine(ref, img, field, tile)
    return _dense(field, tile, height, width)


def _dense(field: np.ndarray, tile: int, height: int, width: int) -> np.ndarray:
    """A per-tile field (ny, nx, 2) interpolated bilinearly between tile centres (HW2)."""
    import cv2

    ny, nx = field.shape[:2]
    flow = cv2.resize(field, (nx * tile, ny * tile), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(flow[:height, :width])


def _refine(ref: np.ndarray, img: np.ndarray, field: np.ndarray, tile: int) -> np.ndarray:
    """One Lucas-Kanade step per tile (Lucas & Kanade, IJCAI 1981): the gradient system
    summed over the tile and its 8 neighbours (which resolves edges that only constrain one
    direction), the step limited to 1 px."""
    import cv2

    h, w = ref.shape
    ny, nx = field.shape[:2]
    flow = _dense(field, tile, h, w)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    warped = cv2.remap(img, x + flow[..., 0], y + flow[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    gx = cv2.Sobel(warped, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(warped, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    err = warped - ref
    terms = np.stack([gx * gx, gx * gy, gy * gy, gx * err, gy * err], axis=-1)
    terms = cv2.copyMakeBorder(terms, 0, ny * tile - h, 0, nx * tile - w, cv2.BORDER_CONSTANT)
    sums = terms.reshape(ny, tile, nx, tile, 5).sum(axis=(1, 3)).astype(np.float64)
    sums = np.stack([cv2.boxFilter(sums[..., k], -1, (3, 3), normalize=False,
                                   borderType=cv2.BORDER_REPLICATE) for k in range(5)], axis=-1)
    a, b, c, e, f = (sums[..., k] for k in range(5))
    reg = 1e-6 * tile * tile * 9 + 1e-3 * (a + c)  # no step where there is no texture
    a, c = a + reg, c + reg
    det = a * c - b * b
    dx = -(c * e - b * f) / det
    dy = -(a * f - b * e) / det
    step = np.clip(np.stack([dx, dy], axis=-1), -1.0, 1.0).astype(np.float32)
    return field + step


def _match_tiles(ref: np.ndarray, img: np.ndarray, size: int, radius: int,
                 coarse: np.ndarray | None, coarse_size: int) -> np.ndarray:
    """(ny, nx, 2) sub-pixel displacement of each ``size`` tile of ``ref`` in ``img``,
    searched around ``coarse`` (the field of the level above, tiles of ``coarse_size``)."""
    import cv2

    h, w = ref.shape
    ny, nx = -(-h // size), -(-w // size)
    ref_p = cv2.copyMakeBorder(ref, 0, ny * size - h, 0, nx * size - w, cv2.BORDER_REFLECT)
    tiles = ref_p.reshape(ny, size, nx, size).transpose(0, 2, 1, 3)
    if coarse is None:
        init = np.zeros((ny, nx, 2), np.float32)
    else:  # the coarser field at this level's tile centres, doubled
        scale = size / (2.0 * coarse_size)  # this level's tiles in coarse tiles
        gy = ((np.arange(ny) + 0.5) * scale - 0.5).astype(np.float32)
        gx = ((np.arange(nx) + 0.5) * scale - 0.5).astype(np.float32)
        mx, my = np.meshgrid(gx, gy)
        init = 2 * cv2.remap(coarse, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    start = np.rint(init).astype(np.int64)
    pad = radius + int(np.abs(start).max()) + 1
    img_p = cv2.copyMakeBorder(img, pad, pad + ny * size - h, pad, pad + nx * size - w,
                               cv2.BORDER_REFLECT)
    span = size + 2 * radius
    y0 = np.arange(ny)[:, None] * size + start[..., 1] - radius + pad
    x0 = np.arange(nx)[None, :] * size + start[..., 0] - radius + pad
    rows = y0[..., None] + np.arange(span)
    cols = x0[..., None] + np.arange(span)
    windows = img_p[rows[..., :, None], cols[..., None, :]]  # (ny, nx, span, span)
    n = 2 * radius + 1
    cost = np.empty((n, n, ny, nx), np.float32)
    for v in range(n):
        for u in range(n):
            d = windows[:, :, v:v + size, u:u + size] - tiles
            cost[v, u] = np.einsum("abij,abij->ab", d, d)
    flat = cost.reshape(n * n, ny, nx)
    best = flat.argmin(axis=0)
    bv, bu = best // n, best % n
    sub = np.zeros((ny, nx, 2), np.float32)
    yy, xx = np.mgrid[0:ny, 0:nx]
    for axis, b in ((0, bu), (1, bv)):  # a parabola through the costs at best -1, 0, +1
        inside = (b > 0) & (b < n - 1)
        lo, hi = np.clip(b - 1, 0, n - 1), np.clip(b + 1, 0, n - 1)
        if axis == 0:
            c0, cm, cp = cost[bv, bu, yy, xx], cost[bv, lo, yy, xx], cost[bv, hi, yy, xx]
        else:
            c0, cm, cp = cost[bv, bu, yy, xx], cost[lo, bu, yy, xx], cost[hi, bu, yy, xx]
        curve = cm + cp - 2 * c0
        step = np.where(inside & (curve > 1e-12), 0.5 * (cm - cp) / np.maximum(curve, 1e-12), 0.0)
        sub[..., axis] = np.clip(step, -0.5, 0.5)
    found = (np.stack([bu, bv], axis=-1) - radius + start + sub).astype(np.float32)
    if ny >= 3 and nx >= 3:
        found = np.stack([cv2.medianBlur(np.ascontiguousarray(found[..., k]), 3)
                          for k in range(2)], axis=-1)
    return found.astype(np.float32)


def align(frames: Sequence[np.ndarray], *, reference: int = 0, method: str = "tiles",
          motion: str = "euclidean", progress: Callable[[int, int], None] | None = None
          ) -> list[Alignment]:
    """One :class:`Alignment` per frame (the reference's is the identity).

    method: off | mtb (integer shift) | ecc (sub-pixel ``motion`` from MTB's shift) | tiles
    (sub-pixel translation per 16-px tile). Frames: HWC/HW float in [0, 1], one size.
    motion (ecc): euclidean (shift + rotation) | translation | affine; across exposures
    translation is the better posed (benchmarks/frames_eval.py). progress: called ``(done,
    len(frames) + 1)`` after each frame.
    """
    if method not in ALIGN_METHODS:
        raise InvalidParameterError(
            f"align must be one of {', '.join(ALIGN_METHODS)}; got {method!r}")
    ref = frames[reference]
    out = []
    for k, frame in enumerate(frames):
        if k == reference or method == "off":
            out.append(Alignment())
        elif method == "mtb":
            dx, dy = mtb_shift(ref, frame)
            out.append(Alignment(matrix=np.array([[1, 0, dx], [0, 1, dy]], np.float64)))
        elif method == "ecc":
            out.append(Alignment(matrix=ecc_matrix(ref, frame, motion=motion)))
        else:
            out.append(Alignment(flow=tile_flow(ref, frame)))
        if progress is not None:
            progress(k + 1, len(frames) + 1)
    return out


def warp(image: np.ndarray, alignment: Alignment) -> tuple[np.ndarray, np.ndarray]:
    """``(aligned, valid)``: ``image`` resampled onto the reference grid (bicubic, HWC
    float32, clipped to [0, 1]) and the HW bool mask of pixels that came from inside it
    (elsewhere the border is replicated)."""
    import cv2

    a = _hwc(image)
    h, w = a.shape[:2]
    if alignment.matrix is None and alignment.flow is None:
        return a.copy(), np.ones((h, w), bool)
    if alignment.flow is not None:
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        mx, my = x + alignment.flow[..., 0], y + alignment.flow[..., 1]
    else:
        d = alignment.displacement(h, w)
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        mx, my = x + d[..., 0], y + d[..., 1]
    out = cv2.remap(a, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    out = np.clip(out.reshape(h, w, a.shape[2]), 0.0, 1.0)
    valid = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return out, valid


def _u8(plane: np.ndarray) -> np.ndarray:
    return np.clip(plane * 255.0 + 0.5, 0, 255).astype(np.uint8)


__all__ = ["ALIGN_METHODS", "Alignment", "align", "apply_mapping", "comparagram_mapping",
           "ecc_matrix", "gray",
           "intensity_mapping", "match_histogram", "mtb_shift", "tile_flow", "warp"]
