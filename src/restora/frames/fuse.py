"""Exposure brackets -> one photo: Mertens exposure fusion, or an HDR radiance map
(Debevec or Robertson camera-response calibration + merge) and its tone mapping; ghosts
of moving objects removed against a reference frame.

- Mertens, Kautz & Van Reeth, "Exposure Fusion", Pacific Graphics 2007 (OpenCV MergeMertens).
- Debevec & Malik, "Recovering High Dynamic Range Radiance Maps from Photographs",
  SIGGRAPH 1997 (OpenCV CalibrateDebevec / MergeDebevec).
- Robertson, Borman & Stevenson, "Estimation-theoretic approach to dynamic range
  enhancement using multiple exposures", JEI 2003 (OpenCV CalibrateRobertson / MergeRobertson).
- Reinhard & Devlin 2005, Drago et al. 2003, Mantiuk et al. 2006 tone mappers (OpenCV).

Frames are HWC (or HW) float in [0, 1], all of one size, never modified. Exposure times are
in seconds (only their ratios matter); radiance maps are HWC float32 in relative units
(radiance x a constant, the same for every pixel).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from restora.errors import InvalidParameterError, ShapeError
from restora.frames.align import (
    Alignment,
    _hwc,
    align,
    apply_mapping,
    comparagram_mapping,
    gray,
    warp,
)

#: HDR merges (they need exposure times) and tone mappers.
HDR_MERGES = ("debevec", "robertson")
TONEMAPS = ("drago", "reinhard", "mantiuk", "gamma")
#: Luma percentiles the tone mappers' output is stretched to black and white.
LEVELS = (0.1, 99.9)
#: Values below / above which a pixel counts as clipped (too dark / saturated) when frames
#: are compared for ghosts.
CLIP_LOW, CLIP_HIGH = 0.02, 0.95
#: Consistency tolerance (in [0, 1] units) added to the noise term: what the comparagram
#: mapping between two exposures cannot model (flare, vignetting, colour processing). On the
#: static memorial brackets 99.9 % of the pixels stay within it.
MODEL_TOLERANCE = 0.04


def check_times(times: Sequence[float], count: int) -> np.ndarray:
    """Exposure times (seconds, > 0) as float32, one per frame."""
    t = np.asarray(times, dtype=np.float64).ravel()
    if t.size != count:
        raise InvalidParameterError(
            f"{t.size} exposure time(s) for {count} frames; give one time per frame, in the "
            "frames' order (e.g. --times 1/30,1/8,1/2)")
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise InvalidParameterError(f"exposure times must be positive numbers; got {list(times)}")
    return t.astype(np.float32)


def exposure_time(exif: bytes | None) -> float | None:
    """EXIF ``ExposureTime`` (tag 0x829A, seconds) from an EXIF block, or ``None``."""
    if not exif:
        return None
    from PIL import Image

    body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
    data = Image.Exif()
    try:
        data.load(body)
        value = data.get_ifd(0x8769).get(0x829A, data.get(0x829A))
        seconds = float(value) if value is not None else None
    except (ValueError, TypeError, ZeroDivisionError, SyntaxError, KeyError, OSError):
        return None
    return seconds if seconds is not None and np.isfinite(seconds) and seconds > 0 else None


def middle_exposure(frames: Sequence[np.ndarray], times: Sequence[float] | None = None) -> int:
    """Index of the middle exposure (by time when known, else by mean brightness): the
    default reference frame of a bracket."""
    keys = list(times) if times is not None else [float(gray(f).mean()) for f in frames]
    order = sorted(range(len(frames)), key=lambda k: keys[k])
    return order[(len(order) - 1) // 2]


def consistency_weights(frames: Sequence[np.ndarray], *, reference: int,
                        sigma: Sequence[float] | float = 2.0,
                        valid: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:
    """Per-pixel weights (HW float32 in [0, 1]) of each frame's agreement with the reference.

    Of each pair (frame, reference) the brighter is mapped to the darker one's exposure by
    the median curve of their comparagram (:func:`~restora.frames.align.comparagram_mapping`;
    mapping down compresses noise instead of amplifying it), both are smoothed (1.5 px) and
    compared where both are well exposed. The tolerance is 3 noise stds of the smoothed
    difference (``sigma``: noise std of each frame, 8-bit units; the mapped frame's noise
    scaled by the mapping's slope) plus :data:`MODEL_TOLERANCE`: weight 1 within it,
    falling to 0 at twice it. Pixels clipped in either frame are not tested (1); pixels
    outside the aligned frame (``valid`` False) get 0. The map is eroded (5 px) and
    smoothed (2 px) so a moving object's rim goes with it. The reference's weight is 1.
    """
    import cv2

    imgs = [_hwc(f) for f in frames]
    sig = np.broadcast_to(np.asarray(sigma, np.float64), (len(imgs),)) / 255.0
    ref = imgs[reference]
    shrink = 1.0 / (2.0 * np.sqrt(np.pi) * 1.5)  # noise std kept by the 1.5-px Gaussian
    out = []
    for k, img in enumerate(imgs):
        keep = None if valid is None or valid[k] is None else np.asarray(valid[k], bool)
        if k == reference:
            out.append(np.ones(ref.shape[:2], np.float32))
            continue
        pair = ((img, sig[k]), (ref, sig[reference]))
        if gray(img).mean() < gray(ref).mean():
            pair = pair[::-1]
        (bright, s_bright), (dark, s_dark) = pair
        luts = comparagram_mapping(bright, dark, mask=keep)
        predicted = cv2.GaussianBlur(apply_mapping(bright, luts), (0, 0), 1.5).reshape(ref.shape)
        slope = apply_mapping(bright, np.clip(np.gradient(luts, axis=1) * luts.shape[1], 0.0, 64.0))
        noise = shrink * np.sqrt(s_dark**2 + (slope * s_bright) ** 2)
        tol = 3.0 * noise + MODEL_TOLERANCE + 0.5 / 255.0
        usable = (img > CLIP_LOW) & (img < CLIP_HIGH) & (ref > CLIP_LOW) & (ref < CLIP_HIGH)
        dark_s = cv2.GaussianBlur(dark, (0, 0), 1.5).reshape(ref.shape)
        ratio = np.where(usable, np.abs(predicted - dark_s) / tol, 0.0).max(axis=2)
        w = np.clip(2.0 - ratio, 0.0, 1.0).astype(np.float32)
        w = cv2.erode(w, np.ones((5, 5), np.uint8))
        w = cv2.GaussianBlur(w, (0, 0), 2.0)
        if keep is not None:
            w[~keep] = 0.0
        out.append(w)
    return out


def deghost(frames: Sequence[np.ndarray], *, reference: int, sigma: Sequence[float] | float = 2.0,
            valid: Sequence[np.ndarray | None] | None = None
            ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(frames, weights)``: each frame with the pixels that disagree with the reference
    (:func:`consistency_weights`) replaced by the reference's pixels mapped to that frame's
    exposure, ``w * frame + (1 - w) * map(reference)``, so a merge takes moving objects
    from the reference frame only. Returns new HWC float32 arrays."""
    imgs = [_hwc(f) for f in frames]
    weights = consistency_weights(imgs, reference=reference, sigma=sigma, valid=valid)
    ref = imgs[reference]
    out = []
    for k, (img, w) in enumerate(zip(imgs, weights)):
        if k == reference:
            out.append(img.copy())
            continue
        keep = None if valid is None or valid[k] is None else np.asarray(valid[k], bool)
        mapped = apply_mapping(ref, comparagram_mapping(ref, img, mask=keep))
        out.append((w[..., None] * img + (1.0 - w[..., None]) * mapped).astype(np.float32))
    return out, weights


def mertens(frames: Sequence[np.ndarray], *, contrast: float = 1.0, saturation: float = 1.0,
            exposure: float = 1.0) -> np.ndarray:
    """Exposure fusion (OpenCV MergeMertens; the paper's weights, exponents 1): HWC float32
    in [0, 1] of the frames' shape. Needs no exposure times."""
    import cv2

    imgs = [_hwc(f) for f in frames]
    merge = cv2.createMergeMertens(contrast, saturation, exposure)
    fused = merge.process([np.ascontiguousarray(f[..., 0] if f.shape[2] == 1 else f) * 255.0
                           for f in imgs])
    return np.clip(fused.reshape(imgs[0].shape), 0.0, 1.0).astype(np.float32)


def calibrate_response(frames: Sequence[np.ndarray], times: Sequence[float], *,
                       method: str = "debevec", samples: int = 100,
                       smoothness: float = 10.0) -> np.ndarray:
    """The camera's inverse response: (256, C) float32, the relative exposure of each 8-bit
    value per channel. Frames are quantised to 8 bits.

    debevec: Debevec & Malik's least-squares ``g(Z) = ln E + ln t`` with a smoothness term
    (``smoothness``, weighted like the data by the hat function) and ``g(128) = 0``, on
    ``samples`` pixels chosen to span the middle exposure's values; solved with LAPACK
    (OpenCV's CalibrateDebevec solves the same system by a Jacobi SVD that takes 5-40 s on
    some inputs). robertson: OpenCV CalibrateRobertson.
    """
    _check_method(method)
    imgs = [_u8(f) for f in frames]
    t = check_times(times, len(imgs))
    if method == "robertson":
        import cv2

        return np.asarray(cv2.createCalibrateRobertson().process(imgs, t),
                          np.float32).reshape(256, -1)
    stack = np.stack([i.reshape(i.shape[0], i.shape[1], -1) for i in imgs])  # P x H x W x C
    middle = stack[middle_exposure([s.astype(np.float32) for s in stack], t)]
    luma = middle.mean(axis=2).ravel()
    rng = np.random.default_rng(0)
    picks = []
    for band in np.array_split(np.argsort(luma, kind="stable"), samples):
        if band.size:
            picks.append(band[rng.integers(band.size)])
    index = np.array(picks)
    hat = np.minimum(np.arange(256), 255 - np.arange(256)).astype(np.float64) + 1.0
    log_t = np.log(t.astype(np.float64))
    out = np.empty((256, stack.shape[3]), np.float32)
    for c in range(stack.shape[3]):
        z = stack[..., c].reshape(len(imgs), -1)[:, index].T  # samples x P
        n, p = z.shape
        rows = n * p + 1 + 254
        a = np.zeros((rows, 256 + n))
        b = np.zeros(rows)
        r = np.arange(n * p)
        zz = z.ravel()
        w = hat[zz]
        a[r, zz] = w
        a[r, 256 + np.repeat(np.arange(n), p)] = -w
        b[: n * p] = w * np.tile(log_t, n)
        a[n * p, 128] = 1.0  # g(128) = 0
        k = np.arange(1, 255)
        s = n * p + 1 + np.arange(254)
        a[s, k - 1], a[s, k], a[s, k + 1] = smoothness * hat[k], -2 * smoothness * hat[k], \
            smoothness * hat[k]
        g = np.linalg.lstsq(a, b, rcond=None)[0][:256]
        out[:, c] = np.exp(g)
    return out


def merge_hdr(frames: Sequence[np.ndarray], times: Sequence[float], *, method: str = "debevec",
              response: np.ndarray | None = None) -> np.ndarray:
    """The scene's radiance, HWC float32 (relative units, >= 0): the frames' weighted mean
    of ``response(value) / time`` (OpenCV MergeDebevec / MergeRobertson). ``response``:
    from :func:`calibrate_response` (computed when ``None``)."""
    import cv2

    _check_method(method)
    imgs = [_u8(f) for f in frames]
    t = check_times(times, len(imgs))
    if response is None:
        response = calibrate_response(frames, t, method=method)
    resp = np.ascontiguousarray(response, np.float32).reshape(256, 1, -1)
    if resp.shape[2] == 1:
        resp = resp[:, :, 0]
    tool = cv2.createMergeDebevec() if method == "debevec" else cv2.createMergeRobertson()
    with _quiet_opencv():
        radiance = np.asarray(tool.process(imgs, t, resp), np.float32)
    radiance = radiance.reshape(_hwc(frames[0]).shape)
    finite = np.isfinite(radiance)
    if not finite.all():  # every frame clipped there: the largest radiance seen
        radiance = np.where(finite, radiance, np.nanmax(np.where(finite, radiance, np.nan)))
    return np.maximum(radiance, 0.0)


def tonemap(radiance: np.ndarray, *, method: str = "drago", gamma: float = 2.2) -> np.ndarray:
    """Radiance (HWC float, relative units) -> display HWC float32 in [0, 1].

    drago (adaptive logarithmic, Drago et al. 2003), reinhard (global photographic operator,
    Reinhard & Devlin 2005), mantiuk (contrast domain, Mantiuk et al. 2006): OpenCV's, each
    ending with ``gamma`` and then stretched so that the :data:`LEVELS` percentiles of the
    luma become black and white; gamma: the 99.5th percentile to white, then
    ``x ** (1 / gamma)``.
    """
    import cv2

    if method not in TONEMAPS:
        raise InvalidParameterError(f"tonemap must be one of {', '.join(TONEMAPS)}; got {method!r}")
    rad = _hwc(np.maximum(np.nan_to_num(np.asarray(radiance, np.float32)), 0.0), "radiance")
    channels = rad.shape[2]
    rgb = np.ascontiguousarray(np.repeat(rad, 3, axis=2) if channels == 1 else rad)
    if method == "gamma":
        white = float(np.percentile(rgb, 99.5)) or 1.0
        out = np.clip(rgb / white, 0.0, 1.0) ** (1.0 / gamma)
    else:
        rgb = rgb / max(float(rgb.max()), 1e-12)  # the operators are scale-invariant
        tool = {"reinhard": cv2.createTonemapReinhard, "drago": cv2.createTonemapDrago,
                "mantiuk": cv2.createTonemapMantiuk}[method](gamma)
        with _quiet_opencv():
            out = np.nan_to_num(tool.process(rgb))
        lo, hi = np.percentile(out @ np.array([0.299, 0.587, 0.114], np.float32), LEVELS)
        out = (out - lo) / max(float(hi - lo), 1e-6)
    out = np.clip(out, 0.0, 1.0).astype(np.float32)
    return out[..., :1] if channels == 1 else out


@dataclass(frozen=True)
class Fused:
    """Result of :func:`fuse_exposures`: the display ``image`` (HWC float32 [0, 1]), the
    ``radiance`` map (HDR merges, else ``None``), the ``merge`` that ran, the ``reference``
    index, each frame's :class:`~restora.frames.align.Alignment` and mean consistency
    ``weight`` with the reference (1 = no ghost removed)."""

    image: np.ndarray
    radiance: np.ndarray | None
    merge: str
    reference: int
    alignments: list[Alignment]
    weights: list[float]


def fuse_exposures(frames: Sequence[np.ndarray], *, times: Sequence[float] | None = None,
                   merge: str = "fuse", align_method: str = "mtb", reference: int | None = None,
                   remove_ghosts: bool = True, sigma: Sequence[float] | float = 2.0,
                   tone: str = "drago",
                   progress: Callable[[int, int], None] | None = None) -> Fused:
    """Exposure brackets -> one photo: align to the reference, remove ghosts
    (:func:`deghost`), then Mertens fusion or an HDR merge + :func:`tonemap`.

    merge: fuse (debevec when ``times`` are given, else mertens) | mertens | debevec |
    robertson. align_method: off | mtb | ecc (translation) | tiles. reference: ``None`` = the middle
    exposure. sigma: noise std of the frames (8-bit units) for the ghost test.
    """
    count = len(frames)
    if merge == "fuse":
        merge = "debevec" if times is not None else "mertens"
    if merge in HDR_MERGES and times is None:
        raise InvalidParameterError(
            f"merge {merge!r} needs the exposure time of each frame: give times (--times "
            "1/30,1/8,1/2) or frames with EXIF ExposureTime; or use mertens")
    t = None if times is None else check_times(times, count)
    ref = middle_exposure(frames, t) if reference is None else reference
    step = progress or (lambda done, total: None)
    alignments = align(frames, reference=ref, method=align_method, motion="translation",
                       progress=step)
    aligned, valid = zip(*(warp(f, a) for f, a in zip(frames, alignments)))
    if remove_ghosts:
        aligned, weights = deghost(aligned, reference=ref, sigma=sigma, valid=valid)
    else:
        weights = [np.ones(v.shape, np.float32) for v in valid]
    if merge == "mertens":
        image, radiance = mertens(aligned), None
    else:
        assert t is not None
        radiance = merge_hdr(aligned, t, method=merge)
        image = tonemap(radiance, method=tone)
    step(count + 1, count + 1)
    return Fused(image, radiance, merge, ref, list(alignments),
                 [float(w.mean()) for w in weights])


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV's HDR code logs a warning about its own matrix expressions to stderr; keep
    the console to restora's lines."""
    import cv2

    logging = getattr(cv2.utils, "logging", None)
    if logging is None:
        yield
        return
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def _check_method(method: str) -> None:
    if method not in HDR_MERGES:
        raise InvalidParameterError(
            f"HDR merge must be one of {', '.join(HDR_MERGES)}; got {method!r}")


def _u8(frame: np.ndarray) -> np.ndarray:
    a = _hwc(frame)
    if not np.isfinite(a).all():
        raise ShapeError("frames must be finite")
    u8 = np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(u8[..., 0] if u8.shape[2] == 1 else u8)


__all__ = [
    "CLIP_HIGH",
    "CLIP_LOW",
    "HDR_MERGES",
    "LEVELS",
    "MODEL_TOLERANCE",
    "TONEMAPS",
    "Fused",
    "calibrate_response",
    "check_times",
    "consistency_weights",
    "deghost",
    "exposure_time",
    "fuse_exposures",
    "merge_hdr",
    "mertens",
    "middle_exposure",
    "tonemap",
]
