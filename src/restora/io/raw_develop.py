"""Camera RAW development in the linear sensor domain: decode, noise model, denoise, develop.

A Bayer RAW file (DNG, CR2, NEF, ARW, ... whatever LibRaw opens) goes:

1. :func:`read_raw`: LibRaw (rawpy) -> the visible sensor samples, black- and white-level
   normalised to ``(raw - black) / (white - black)`` (linear, ~[0, 1], negative readings
   kept), the 2x2 CFA layout, the camera white balance, the camera -> sRGB matrix, the
   orientation and the EXIF (make, model, ISO, exposure, date).
2. :func:`noise_model`: Poisson-Gaussian noise ``Var[z] = shot * x + read`` on that scale,
   from the DNG NoiseProfile tag, else the ISO (:func:`noise_from_iso`), else estimated on
   the mosaic itself (:func:`estimate_raw_noise`).
3. :func:`denoise_mosaic`: the generalised Anscombe transform (Starck, Murtagh & Bijaoui
   1998) makes the noise unit-variance Gaussian; each of the four CFA planes is denoised by
   an AWGN denoiser (a callback: the runner hands restora's default gray denoiser); the
   closed-form approximation of the exact unbiased inverse (Makitalo & Foi, IEEE TIP 2013)
   brings it back.
4. :func:`develop`: white balance (highlights clipped), Malvar-He-Cutler demosaicking,
   camera -> linear sRGB matrix, LibRaw-style automatic brightness, sRGB transfer curve.

Arrays are float, HW (mosaic) or HWC (RGB); functions never modify their inputs.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from restora.color import linear_to_srgb
from restora.degrade.camera import (
    LOG_SHOT_RANGE,
    READ_INTERCEPT,
    READ_SLOPE,
    RGB2XYZ,
    demosaic,
)
from restora.errors import ImageReadError, ShapeError, UnsupportedFormatError
from restora.io import _meta
from restora.io._sniff import check_decode, resolve_max_pixels, sniff_format
from restora.io.image import Metadata, Photo
from restora.io.read import decoder_errors, libraw_message, open_raw

#: 2x2 Bayer layouts by the colours of (0, 0), (0, 1), (1, 0), (1, 1).
BAYER = ("RGGB", "BGGR", "GRBG", "GBRG")
#: ISO at which :func:`noise_from_iso` puts the shot-noise variance at :data:`SHOT_AT_BASE`.
BASE_ISO = 100.0
#: Shot-noise variance per unit signal at :data:`BASE_ISO`: a sensor holding 10,000
#: electrons at white level; the low end of Brooks et al.'s range (1e-4 .. 1.2e-2), whose
#: top it reaches at ISO 12,000.
SHOT_AT_BASE = math.exp(LOG_SHOT_RANGE[0])
#: Automatic brightness: the fraction of values left above white (LibRaw's ``auto_bright_thr``)
#: and the largest gain it applies.
BRIGHT_CLIP = 0.01
BRIGHT_MAX_GAIN = 16.0
#: Mosaic samples at or above this (normalised) are treated as clipped by the noise estimator.
SATURATED = 0.95
#: Rows per strip of the demosaicking and the sRGB curve (their float64 temporaries).
STRIP = 256
#: The noise estimator keeps, per bin of the mean, the blocks whose activity is in this
#: lowest fraction (0.25 halves the texture bias of 0.5 on the synthetic astronaut scene).
FLAT_QUANTILE = 0.25

PlaneDenoiser = Callable[[np.ndarray, float], np.ndarray]
"""``denoise(plane, sigma) -> plane``: an AWGN denoiser for an HW1 float32 image in [0, 1]
with noise std ``sigma`` in 8-bit units (sigma / 255 on the [0, 1] scale)."""


class NotBayerError(UnsupportedFormatError):
    """The sensor has no 2x2 Bayer mosaic (X-Trans, Foveon, linear DNG, CYGM ...)."""


@dataclass(frozen=True)
class RawMosaic:
    """A decoded Bayer RAW file.

    data: HW float32, ``(raw - black) / (white - black)`` per photosite (linear; readings
        below black are kept negative; 1.0 = the sensor's white level).
    pattern: the 2x2 CFA layout, one of :data:`BAYER`.
    wb: (3,) white-balance gains R, G, B of the camera (as shot), smallest = 1.
    cam2rgb: 3x3 camera RGB -> linear sRGB (D65), rows summing to 1.
    iso: the ISO of the shot, ``None`` when unknown. noise_profile: (shot, read) from the
        DNG NoiseProfile tag, ``None`` when absent.
    orientation: EXIF orientation (1..8) to apply after development.
    exif: EXIF block for the output (orientation 1), or ``None``. source: the file.
    """

    data: np.ndarray
    pattern: str
    wb: np.ndarray
    cam2rgb: np.ndarray
    iso: float | None = None
    noise_profile: tuple[float, float] | None = None
    orientation: int = 1
    exif: bytes | None = None
    source: Path | None = None


@dataclass(frozen=True)
class NoiseModel:
    """Poisson-Gaussian noise of a mosaic: ``Var[z] = shot * x + read`` on the normalised
    scale of :attr:`RawMosaic.data`. source: where it came from (for reports). channels:
    per-CFA-plane ``(shot, read)`` fits when estimated, in the order of the 2x2 layout."""

    shot: float
    read: float
    source: str
    channels: tuple[tuple[float, float], ...] = field(default=())

    def describe(self) -> str:
        return f"{self.source}: shot {self.shot:.3g}, read {self.read:.3g}"


# --- decode ----------------------------------------------------------------------------------


def is_raw(path: str | Path) -> bool:
    """True when the file's content is a camera RAW format (restora's sniffing)."""
    return sniff_format(Path(path)) == "RAW"


def read_raw(path: str | Path, *, max_pixels: int | None = None) -> RawMosaic:
    """Decode a Bayer RAW file to its normalised linear mosaic and what developing needs.

    Raises NotBayerError (no 2x2 Bayer mosaic: develop it with :func:`restora.io.read_image`),
    ImageReadError (truncated, corrupt), UnsupportedFormatError, DecompressionBombError,
    MissingExtraError (rawpy not installed).
    """
    path = Path(path)
    limit = resolve_max_pixels(max_pixels)
    with decoder_errors(path, damaged="camera RAW data", doing="decode this camera RAW file"):
        rawpy, raw = open_raw(path)
        try:
            sizes = raw.sizes
            # about 48 bytes a pixel at the peak: the float32 mosaic, its float64 Anscombe
            # transform and denoised planes, the float32 RGB (demosaicked in strips)
            check_decode(path, int(sizes.width), int(sizes.height), limit, channels=3,
                         sample_bytes=16)
            raw.unpack()
            sensor = raw.raw_image_visible
            if sensor is None or np.ndim(sensor) != 2:
                raise NotBayerError(path, "the sensor data is not a one-sample-per-pixel mosaic")
            # the colours of the visible samples themselves (raw_pattern may be relative to
            # the full sensor, margins included); 6x6 also rules out X-Trans
            layout = np.asarray(raw.raw_colors_visible[:6, :6])
            pattern = bayer_pattern(layout, raw.color_desc)
            if pattern is None:
                raise NotBayerError(
                    path, f"the sensor's colour filter ({layout.shape[0]}x{layout.shape[1]} "
                    f"{raw.color_desc.decode('ascii', 'replace')}) is not a 2x2 Bayer mosaic")
            black = np.asarray(raw.black_level_per_channel, dtype=np.float64)
            whites = raw.camera_white_level_per_channel
            white = np.asarray(whites if whites else [raw.white_level] * 4, dtype=np.float64)
            data = _normalise(np.asarray(sensor), layout[:2, :2], black, white)
            wb = _white_balance(raw.camera_whitebalance, raw.daylight_whitebalance, raw.color_desc)
            cam2rgb = _camera_matrix(np.asarray(raw.color_matrix), np.asarray(raw.rgb_xyz_matrix),
                                     raw.color_desc)
            orientation = FLIP_TO_ORIENTATION.get(int(sizes.flip), 1)
            other = raw.other
        except rawpy.LibRawError as exc:
            raise ImageReadError(
                path, f"truncated or corrupt camera RAW data ({type(exc).__name__}: "
                f"{libraw_message(exc)})") from None
        finally:
            raw.close()
        tiff = _tiff_ifd0(path)
        exif = raw_exif(tiff, other)
    return RawMosaic(data=data, pattern=pattern, wb=wb, cam2rgb=cam2rgb, iso=_iso(exif, other),
                     noise_profile=_noise_profile(tiff), orientation=orientation, exif=exif,
                     source=path)


#: LibRaw's ``sizes.flip`` -> EXIF orientation (dcraw maps EXIF o to "50132467"[o & 7]).
FLIP_TO_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}


def bayer_pattern(layout: np.ndarray, color_desc: bytes) -> str | None:
    """The 2x2 layout (e.g. ``"RGGB"``) from LibRaw's colour indices of the top-left samples
    (``raw_colors_visible``; any size from 2x2, checked to repeat every 2) and
    ``color_desc`` (a fourth colour named G counts as G); ``None`` for anything but a Bayer
    mosaic."""
    layout = np.asarray(layout)
    names = color_desc.decode("ascii", "replace")
    if layout.ndim != 2 or layout.shape[0] < 2 or layout.shape[1] < 2:
        return None
    if not all(0 <= int(v) < len(names) for v in layout.ravel()):
        return None
    letters = "".join(names[int(v)] for v in layout.ravel())
    w = layout.shape[1]
    text = "".join(names[int(layout[i, j])] for i in (0, 1) for j in (0, 1))
    tiles = all(letters[i * w + j] == text[2 * (i % 2) + j % 2]
                for i in range(layout.shape[0]) for j in range(w))
    return text if text in BAYER and tiles else None


def _normalise(sensor: np.ndarray, layout: np.ndarray, black: np.ndarray,
               white: np.ndarray) -> np.ndarray:
    out = sensor.astype(np.float32)
    for i in (0, 1):
        for j in (0, 1):
            c = int(layout[i, j])
            span = max(float(white[c] - black[c]), 1.0)
            out[i::2, j::2] = (out[i::2, j::2] - np.float32(black[c])) / np.float32(span)
    return out


def _channel(name: str) -> int | None:
    return {"R": 0, "G": 1, "B": 2}.get(name)


def _white_balance(camera: Any, daylight: Any, color_desc: bytes) -> np.ndarray:
    """R, G, B gains: the camera's as-shot multipliers, else daylight, else none; min 1."""
    names = color_desc.decode("ascii", "replace")
    for source in (camera, daylight):
        gains = np.zeros(3)
        for value, name in zip(source or (), names):
            c = _channel(name)
            if c is not None and value and not gains[c]:
                gains[c] = float(value)
        if (gains > 0).all() and np.isfinite(gains).all():
            return gains / gains.min()
    return np.ones(3)


def _camera_matrix(rgb_cam: np.ndarray, cam_xyz: np.ndarray, color_desc: bytes) -> np.ndarray:
    """3x3 camera RGB -> linear sRGB: LibRaw's ``rgb_cam`` (``color_matrix``), else computed
    from ``cam_xyz`` as dcraw does (rows of cam_xyz @ xyz_rgb summed to 1, then inverted),
    else the identity. The column of a fourth colour named G is added to G's (both greens
    become one G channel)."""
    names = color_desc.decode("ascii", "replace")
    matrix = np.zeros((3, 3))
    if rgb_cam.shape[0] >= 3 and np.abs(rgb_cam).sum() > 0:
        for k, name in enumerate(names[: rgb_cam.shape[1]]):
            c = _channel(name)
            if c is not None:
                matrix[:, c] += rgb_cam[:3, k]
        if np.isfinite(matrix).all() and abs(np.linalg.det(matrix)) > 1e-6:
            return matrix
    if cam_xyz.shape[0] >= 3 and np.abs(cam_xyz[:3]).sum() > 0:
        cam_rgb = cam_xyz[:3, :3] @ RGB2XYZ
        cam_rgb = cam_rgb / cam_rgb.sum(axis=1, keepdims=True)
        if np.isfinite(cam_rgb).all() and abs(np.linalg.det(cam_rgb)) > 1e-6:
            return np.linalg.inv(cam_rgb)
    return np.eye(3)


def _tiff_ifd0(path: Path) -> Any:
    """IFD0 of a TIFF-structured RAW (DNG, NEF, ARW, CR2 ...) as ``PIL.Image.Exif``, or None."""
    from PIL import Image

    with open(path, "rb") as fh:
        if fh.read(4) not in (b"II*\x00", b"MM\x00*"):
            return None
    parsed = Image.Exif()
    try:
        parsed.load(path.read_bytes())
    except (OSError, ValueError, SyntaxError, KeyError, TypeError, struct.error):
        return None
    return parsed


def raw_exif(ifd0: Any, other: Any = None) -> bytes | None:
    """An EXIF block (orientation 1) for a developed RAW: IFD0 make, model, date, artist,
    copyright and the Exif sub-IFD of a TIFF-structured file (``ifd0``: ``PIL.Image.Exif``
    or None), completed with what LibRaw read (``other``: rawpy's ISO, shutter, aperture,
    focal length, time stamp). None when nothing is known."""
    from PIL import Image, TiffImagePlugin

    exif = Image.Exif()
    block = None
    if ifd0 is not None:
        try:
            block = _meta.exif_from_tiff_ifd(ifd0)
        except (OSError, ValueError, SyntaxError, KeyError, TypeError, struct.error):
            block = None
    if block:
        exif.load(_meta.exif_body(block))
    sub = exif.get_ifd(0x8769)
    if ifd0 is not None and ifd0.get(0x8827) and 0x8827 not in sub:  # TIFF/EP: ISO in IFD0
        sub[0x8827] = ifd0.get(0x8827)
    if other is not None:
        facts = {0x8827: round(other.iso_speed) if other.iso_speed > 0 else None,
                 0x829A: _rational(other.shutter_speed), 0x829D: _rational(other.aperture),
                 0x920A: _rational(other.focal_length)}
        stamp = getattr(other, "timestamp", None)
        if stamp is not None and stamp.year > 1970:
            facts[0x9003] = stamp.strftime("%Y:%m:%d %H:%M:%S")
        for tag, value in facts.items():
            if value is not None and tag not in sub:
                sub[tag] = value
        if getattr(other, "artist", "") and 0x013B not in exif:
            exif[0x013B] = other.artist
    if not len(exif) and not sub:
        return None
    exif[_meta.ORIENTATION_TAG] = 1
    if sub:
        exif[0x8769] = {k: (TiffImagePlugin.IFDRational(v.numerator, v.denominator)
                            if isinstance(v, Fraction) else v) for k, v in sub.items()}
    return _meta.normalize_exif(exif.tobytes())


def _rational(value: float) -> Fraction | None:
    if not value or not math.isfinite(value) or value <= 0:
        return None
    return Fraction(value).limit_denominator(100000)


def _iso(exif: bytes | None, other: Any) -> float | None:
    iso = _meta.exif_summary(exif).get("ISO")
    if isinstance(iso, (int, float)) and iso > 0:
        return float(iso)
    value = getattr(other, "iso_speed", 0.0) if other is not None else 0.0
    return float(value) if value and value > 0 else None


def _noise_profile(ifd0: Any) -> tuple[float, float] | None:
    """(shot, read) from the DNG NoiseProfile tag (51041): the mean over its planes."""
    if ifd0 is None:
        return None
    values = ifd0.get(51041)
    try:
        pairs = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        return None
    if pairs.size == 0 or not np.isfinite(pairs).all() or (pairs < 0).any():
        return None
    shot, read = pairs.mean(axis=0)
    return float(shot), float(read)


# --- noise model -----------------------------------------------------------------------------


def noise_from_iso(iso: float) -> NoiseModel:
    """A generic sensor's noise at ``iso``: ``shot = SHOT_AT_BASE * iso / BASE_ISO`` (the
    shot variance per unit signal grows with the analogue gain) and Brooks et al.'s
    log-linear read noise, ``log read = 2.18 log shot + 1.20`` (CVPR 2019, their mean,
    without the spread). A rough prior: real sensors differ by a factor of a few."""
    if not iso or iso <= 0 or not math.isfinite(iso):
        raise ValueError(f"iso must be a positive number, got {iso!r}")
    shot = SHOT_AT_BASE * float(iso) / BASE_ISO
    read = math.exp(READ_SLOPE * math.log(shot) + READ_INTERCEPT)
    return NoiseModel(shot, read, f"ISO {iso:g}")


def noise_model(raw: RawMosaic) -> NoiseModel:
    """The noise of a decoded RAW: the DNG NoiseProfile when present, else the ISO
    relation (:func:`noise_from_iso`), else an estimate on the mosaic
    (:func:`estimate_raw_noise`)."""
    if raw.noise_profile is not None:
        return NoiseModel(*raw.noise_profile, "DNG NoiseProfile")
    if raw.iso is not None:
        return noise_from_iso(raw.iso)
    return estimate_raw_noise(raw.data)


def pack(mosaic: np.ndarray) -> np.ndarray:
    """HW mosaic -> (H/2, W/2, 4) planes in the order (0,0), (0,1), (1,0), (1,1); odd sides
    are first padded by reflection (which keeps the CFA phase)."""
    x = np.asarray(mosaic)
    if x.ndim != 2:
        raise ShapeError(f"pack: expected an HW mosaic, got shape {x.shape}")
    x = np.pad(x, ((0, x.shape[0] % 2), (0, x.shape[1] % 2)), mode="reflect")
    return np.stack([x[0::2, 0::2], x[0::2, 1::2], x[1::2, 0::2], x[1::2, 1::2]], axis=-1)


def unpack(planes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`pack`: (h, w, 4) planes -> the HW mosaic of ``shape``."""
    h, w = planes.shape[:2]
    out = np.empty((2 * h, 2 * w), planes.dtype)
    out[0::2, 0::2], out[0::2, 1::2] = planes[..., 0], planes[..., 1]
    out[1::2, 0::2], out[1::2, 1::2] = planes[..., 2], planes[..., 3]
    return out[: shape[0], : shape[1]]


def estimate_raw_noise(mosaic: np.ndarray, *, bins: int = 16, min_count: int = 32) -> NoiseModel:
    """Estimate ``Var[z] = shot * x + read`` from a noisy mosaic (HW, normalised linear).

    Per CFA plane, non-overlapping 2x2 blocks give a local mean ``m`` (their average) and a
    noise sample ``d = (a - b - c + e) / 2`` (the Haar diagonal detail: variance = the
    noise variance, blind to constants and linear ramps). Flat blocks are kept: those whose
    activity, the gradient of the block means (independent of ``d`` under noise), is in the
    lowest :data:`FLAT_QUANTILE` of blocks of similar mean; clipped blocks are dropped. Per
    bin of the mean, the variance is the squared robust (MAD) std of ``d``; a weighted
    least-squares line through all bins of all planes gives (shot, read) (Foi et al.,
    "Practical Poissonian-Gaussian noise modeling and fitting for single-image raw-data",
    IEEE TIP 2008, in a simplified form). ``channels`` holds the same fit per plane.
    Texture still biases it upwards on small, busy or nearly clean mosaics (see
    docs/benchmarks.md). Raises ShapeError when too few flat blocks remain.
    """
    planes = pack(np.asarray(mosaic, dtype=np.float64))
    samples = [_plane_samples(planes[..., k], bins, min_count) for k in range(4)]
    everything = [s for plane in samples for s in plane]
    if len(everything) < 2:
        raise ShapeError(
            f"estimate_raw_noise: too few flat areas in a {np.shape(mosaic)} mosaic to fit "
            "the noise")
    shot, read = _fit_line(everything)
    per_plane = tuple(_fit_line(s) if len(s) >= 2 else (shot, read) for s in samples)
    return NoiseModel(shot, read, "estimated from the mosaic", per_plane)


def _plane_samples(plane: np.ndarray, bins: int, min_count: int
                   ) -> list[tuple[float, float, int]]:
    """(mean, variance, count) per mean bin of one CFA plane's flat 2x2 blocks."""
    h, w = plane.shape[0] // 2 * 2, plane.shape[1] // 2 * 2
    if h < 6 or w < 6:
        return []
    a, b = plane[0:h:2, 0:w:2], plane[0:h:2, 1:w:2]
    c, e = plane[1:h:2, 0:w:2], plane[1:h:2, 1:w:2]
    mean = (a + b + c + e) / 4.0
    detail = (a - b - c + e) / 2.0
    top = np.maximum(np.maximum(a, b), np.maximum(c, e))
    gy, gx = np.gradient(mean)
    activity = np.hypot(gx, gy)
    keep = top < SATURATED
    keep[0, :] = keep[-1, :] = keep[:, 0] = keep[:, -1] = False
    m, d, act = mean[keep], detail[keep], activity[keep]
    if m.size < 4 * min_count:
        return []
    bins = int(np.clip(m.size // (4 * min_count), 2, bins))  # small images: fewer bins
    edges = np.unique(np.quantile(m, np.linspace(0.0, 1.0, bins + 1)))
    which = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, len(edges) - 2)
    out = []
    for k in range(len(edges) - 1):
        inside = which == k
        if np.count_nonzero(inside) < 2 * min_count:
            continue
        flat = inside & (act <= np.quantile(act[inside], FLAT_QUANTILE))
        dk = d[flat]
        if dk.size < min_count:
            continue
        std = 1.4826 * float(np.median(np.abs(dk - np.median(dk))))
        out.append((float(m[flat].mean()), std * std, int(dk.size)))
    return out


def _fit_line(samples: list[tuple[float, float, int]]) -> tuple[float, float]:
    """Weighted least squares ``var = shot * mean + read`` (weights count / var^2, the
    inverse variance of a variance estimate; refined once with the fitted line); shot and
    read at least 0."""
    m = np.array([s[0] for s in samples])
    v = np.array([s[1] for s in samples])
    n = np.array([s[2] for s in samples], dtype=np.float64)
    model = np.maximum(v, 1e-12)
    shot = read = 0.0
    for _ in range(2):
        weight = n / model**2
        design = np.stack([m, np.ones_like(m)], axis=1) * np.sqrt(weight)[:, None]
        (shot, read), *_ = np.linalg.lstsq(design, v * np.sqrt(weight), rcond=None)
        if shot < 0:
            shot, read = 0.0, float(np.sum(weight * v) / np.sum(weight))
        read = max(float(read), 0.0)
        model = np.maximum(shot * m + read, 1e-12)
    return float(shot), float(read)


# --- variance stabilisation ------------------------------------------------------------------

#: Below this the closed-form inverse of Makitalo & Foi (2013) is no longer monotone; it is
#: continued by the algebraic inverse there (2 sqrt(3/8): the transform of 0 without read noise).
_D0 = 2.0 * math.sqrt(3.0 / 8.0)
_GAUSSIAN_SHOT = 1e-12  # below this shot variance the noise is treated as Gaussian


def anscombe(z: np.ndarray, noise: NoiseModel) -> np.ndarray:
    """Generalised Anscombe transform: Poisson-Gaussian ``z`` (Var = shot * x + read) ->
    approximately unit-variance Gaussian noise. ``2 sqrt(z/shot + 3/8 + read/shot^2)``
    (Starck, Murtagh & Bijaoui 1998); for ``shot`` ~ 0 simply ``z / sqrt(read)``.
    Returns float64 of z's shape."""
    z = np.asarray(z, dtype=np.float64)
    if noise.shot <= _GAUSSIAN_SHOT:
        return z / math.sqrt(max(noise.read, 1e-20))
    alpha = noise.shot
    return 2.0 * np.sqrt(np.maximum(z / alpha + 0.375 + noise.read / alpha**2, 0.0))


def inverse_anscombe(d: np.ndarray, noise: NoiseModel) -> np.ndarray:
    """Closed-form approximation of the exact unbiased inverse of :func:`anscombe`
    (Makitalo & Foi, "Optimal inversion of the generalized Anscombe transformation for
    Poisson-Gaussian noise", IEEE TIP 2013): maps the denoised (expected) transform back
    to the expected signal. Clipped at 0 as theirs. Returns float64."""
    d = np.asarray(d, dtype=np.float64)
    if noise.shot <= _GAUSSIAN_SHOT:
        return d * math.sqrt(max(noise.read, 1e-20))
    alpha = noise.shot
    s2 = noise.read / alpha**2
    c = math.sqrt(1.5)
    safe = np.maximum(d, _D0)
    exact = (0.25 * safe**2 + 0.25 * c / safe - 1.375 / safe**2 + 0.625 * c / safe**3
             - 0.125 - s2)
    below = (d**2 - _D0**2) / 4.0 - s2  # continues it below _D0 (value there: -s2)
    return np.maximum(np.where(d >= _D0, exact, below), 0.0) * alpha


def denoise_mosaic(mosaic: np.ndarray, noise: NoiseModel, denoise: PlaneDenoiser
                   ) -> tuple[np.ndarray, float]:
    """Denoise a Poisson-Gaussian mosaic with an AWGN denoiser: :func:`anscombe`, scale to
    [0, 1] (the unit noise std becomes ``sigma = 255 / range`` in 8-bit units), ``denoise``
    each CFA plane (:func:`pack`), undo the scaling, :func:`inverse_anscombe`.

    mosaic: HW float (normalised linear). Returns (HW float32 denoised mosaic, sigma).
    """
    x = np.asarray(mosaic)
    stable = anscombe(x, noise)
    lo, hi = float(stable.min()), float(stable.max())
    span = max(hi - lo, 1e-6)
    sigma = 255.0 / span
    planes = pack(((stable - lo) / span).astype(np.float32))
    out = np.empty(planes.shape, np.float64)
    for k in range(4):
        result = denoise(np.ascontiguousarray(planes[..., k : k + 1]), sigma)
        out[..., k] = np.asarray(result, dtype=np.float64).reshape(planes.shape[:2])
    restored = inverse_anscombe(unpack(out, x.shape) * span + lo, noise)
    return restored.astype(np.float32), sigma


# --- develop ---------------------------------------------------------------------------------


def white_balance(mosaic: np.ndarray, pattern: str, wb: np.ndarray) -> np.ndarray:
    """Multiply each photosite by its colour's gain (``wb``: R, G, B) and clip at the white
    level 1 (clipped highlights stay white, as dcraw's default). Returns float32 HW."""
    if pattern not in BAYER:
        raise ShapeError(f"pattern must be one of {', '.join(BAYER)}, got {pattern!r}")
    out = np.array(mosaic, dtype=np.float32)
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        out[i::2, j::2] *= np.float32(wb["RGB".index(pattern[k])])
    return np.minimum(out, np.float32(1.0))


def demosaic_bayer(mosaic: np.ndarray, pattern: str) -> np.ndarray:
    """Malvar-He-Cutler demosaicking (ICASSP 2004; :func:`restora.degrade.camera.demosaic`)
    of any 2x2 Bayer layout: the mosaic is padded by one mirrored row/column where needed
    to bring red to (0, 0) (mirroring keeps the colours), then cropped back.
    Returns HW3 float32 (camera RGB)."""
    if pattern not in BAYER:
        raise ShapeError(f"pattern must be one of {', '.join(BAYER)}, got {pattern!r}")
    red = pattern.index("R")
    top, left = red // 2, red % 2
    x = np.pad(np.asarray(mosaic), ((top, 0), (left, 0)), mode="reflect")
    out = np.empty(x.shape + (3,), np.float32)
    for y0 in range(0, x.shape[0], STRIP):  # strips + a 4-row halo: the same result
        y1 = min(y0 + STRIP, x.shape[0])
        a, b = max(y0 - 4, 0), min(y1 + 4, x.shape[0])
        out[y0:y1] = demosaic(x[a:b])[y0 - a : y1 - a]
    return out[top:, left:]


def auto_brightness(rgb: np.ndarray) -> float:
    """LibRaw's automatic brightness: the gain that puts the top :data:`BRIGHT_CLIP` of
    each channel (the highest such level over channels) at white; between 1 and
    :data:`BRIGHT_MAX_GAIN` (it only brightens). rgb: HW3 linear, any range."""
    x = np.asarray(rgb)
    step = max(1, int(math.sqrt(x.shape[0] * x.shape[1] / 1e6)))  # ~1 M samples suffice
    sample = x[::step, ::step].reshape(-1, x.shape[-1])
    white = float(np.quantile(sample, 1.0 - BRIGHT_CLIP, axis=0).max())
    if not math.isfinite(white) or white <= 0:
        return 1.0
    return float(np.clip(1.0 / white, 1.0, BRIGHT_MAX_GAIN))


def camera_to_srgb(rgb: np.ndarray, cam2rgb: np.ndarray, *, brightness: float | None = None
                   ) -> np.ndarray:
    """Camera RGB (HW3, linear, white-balanced) -> sRGB: the colour matrix, the gain
    ``brightness`` (``None``: :func:`auto_brightness`), clip to [0, 1], the sRGB transfer
    curve (IEC 61966-2-1). Returns HW3 float32 in [0, 1]."""
    x = np.asarray(rgb, dtype=np.float32)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ShapeError(f"camera_to_srgb: expected HW3, got shape {x.shape}")
    linear = x @ np.asarray(cam2rgb, dtype=np.float32).T
    gain = auto_brightness(linear) if brightness is None else float(brightness)
    linear = np.clip(linear * np.float32(gain), 0.0, 1.0)
    for y in range(0, linear.shape[0], STRIP):  # in place, a strip of float64 at a time
        linear[y : y + STRIP] = linear_to_srgb(linear[y : y + STRIP])
    return linear


def develop(mosaic: np.ndarray, pattern: str, *, wb: np.ndarray, cam2rgb: np.ndarray,
            brightness: float | None = None) -> np.ndarray:
    """Linear mosaic (HW, normalised) -> sRGB HW3 float32 in [0, 1]: :func:`white_balance`,
    :func:`demosaic_bayer`, :func:`camera_to_srgb`."""
    balanced = white_balance(mosaic, pattern, wb)
    return camera_to_srgb(demosaic_bayer(balanced, pattern), cam2rgb, brightness=brightness)


@dataclass(frozen=True)
class Development:
    """A developed RAW: the photo (sRGB, 16-bit, upright, EXIF kept), the noise model and
    the AWGN level the denoiser saw (8-bit units of the stabilised range); the last two
    ``None`` without denoising."""

    photo: Photo
    noise: NoiseModel | None
    sigma: float | None

    def describe(self, denoiser: str | None = None) -> str:
        """What was done, as a phrase for reports (``denoiser``: what denoised)."""
        if self.noise is None or self.sigma is None:
            return "the camera RAW developed (not denoised in the linear domain)"
        return (f"{denoiser or 'the denoiser'} at sigma {self.sigma:.1f} on the camera RAW's "
                f"linear CFA planes (generalised Anscombe; noise from {self.noise.describe()}), "
                "then developed")


def develop_raw(raw: RawMosaic, *, denoise: PlaneDenoiser | None = None,
                noise: NoiseModel | None = None) -> Development:
    """Develop a decoded RAW into an upright sRGB :class:`Photo` (``bit_depth`` 16, format
    ``RAW``, EXIF of the file), denoising it first in the linear domain when ``denoise`` is
    given (noise: ``noise``, else :func:`noise_model`)."""
    mosaic, sigma = raw.data, None
    if denoise is not None:
        noise = noise_model(raw) if noise is None else noise
        mosaic, sigma = denoise_mosaic(mosaic, noise, denoise)
    else:
        noise = None
    rgb = develop(mosaic, raw.pattern, wb=raw.wb, cam2rgb=raw.cam2rgb)
    rgb = np.ascontiguousarray(_meta.apply_orientation(rgb, raw.orientation))
    photo = Photo(pixels=rgb, bit_depth=16, metadata=Metadata(exif=raw.exif),
                  source=raw.source, format="RAW")
    return Development(photo, noise, sigma)


__all__ = [
    "BAYER", "Development", "NoiseModel", "NotBayerError", "PlaneDenoiser", "RawMosaic",
    "anscombe", "auto_brightness", "bayer_pattern", "camera_to_srgb", "demosaic_bayer",
    "denoise_mosaic", "develop", "develop_raw", "estimate_raw_noise", "inverse_anscombe",
    "is_raw", "noise_from_iso", "noise_model", "pack", "raw_exif", "read_raw", "unpack",
    "white_balance",
]
