"""Realistic camera noise: unprocess an sRGB image to a raw Bayer mosaic, add sensor noise,
process it back (the in-camera pipeline), and BSRGAN/SCUNet-style random degradation mixes.

The raw model follows Brooks, Mildenhall, Xue, Chen, Sharlet & Barron, "Unprocessing Images
for Learned Raw Denoising", CVPR 2019: inverse tone curve (smoothstep), inverse gamma 2.2,
inverse colour correction (a random convex mix of four camera XYZ->cam matrices), inverse
white balance with highlight-preserving safe inversion, RGGB mosaic, Poisson-Gaussian noise
with log-linear read/shot levels. Processing back uses Malvar-He-Cutler demosaicking (IEEE
ICASSP 2004), white balance, colour correction, gamma, smoothstep, an optional unsharp mask
and JPEG. The mix follows Zhang et al., BSRGAN (ICCV 2021) and SCUNet (2022).

Images are HWC (or HW, gray) float in [0, 1]; every function takes a seeded
``np.random.Generator`` and never modifies its input. Raw mosaics are HW float64 in [0, 1]
(linear, camera space) with the RGGB pattern: R at (0, 0), G at (0, 1) and (1, 0), B at (1, 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from restora.degrade._common import check_image
from restora.degrade.jpeg import jpeg_compress
from restora.errors import InvalidParameterError, ShapeError

#: XYZ -> camera matrices of four cameras (Brooks et al. 2019, ``unprocess.random_ccm``).
XYZ2CAMS = np.array(
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.5181]],
    ]
)
#: Linear sRGB (D65) -> XYZ.
RGB2XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
#: Range of log shot-noise variance (per unit signal), Brooks et al. 2019.
LOG_SHOT_RANGE = (math.log(1e-4), math.log(1.2e-2))
#: log(read variance) = READ_SLOPE * log(shot) + READ_INTERCEPT + N(0, READ_SPREAD).
READ_SLOPE, READ_INTERCEPT, READ_SPREAD = 2.18, 1.20, 0.26
#: Gray level above which the safe gain inversion blends towards gain 1 (Brooks et al.).
INFLECTION = 0.9
_GRAY = np.array([0.2989, 0.5870, 0.1140])  # MATLAB rgb2gray


@dataclass(frozen=True)
class CameraMeta:
    """What :func:`process` needs to invert :func:`unprocess`.

    rgb2cam: 3x3 linear sRGB -> camera matrix (rows sum to 1); cam2rgb its inverse.
    rgb_gain: overall brightness gain (1 / N(0.8, 0.1)); red_gain, blue_gain: white balance
    (uniform in [1.9, 2.4] and [1.5, 1.9]).
    """

    rgb2cam: np.ndarray
    cam2rgb: np.ndarray
    rgb_gain: float
    red_gain: float
    blue_gain: float


# --- tone curve, gamma, colour -------------------------------------------------------------


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Global tone curve ``3x^2 - 2x^3`` on [0, 1] (Brooks et al. 2019)."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return 3.0 * x**2 - 2.0 * x**3


def inverse_smoothstep(y: np.ndarray) -> np.ndarray:
    """Exact inverse of :func:`smoothstep` on [0, 1]: ``0.5 - sin(asin(1 - 2y) / 3)``."""
    y = np.clip(np.asarray(y, dtype=np.float64), 0.0, 1.0)
    return 0.5 - np.sin(np.arcsin(1.0 - 2.0 * y) / 3.0)


def random_ccm(rng: np.random.Generator) -> np.ndarray:
    """Random linear sRGB -> camera matrix: a random convex mix of :data:`XYZ2CAMS` times
    :data:`RGB2XYZ`, rows normalised to sum 1 (white stays white). Returns 3x3 float64."""
    w = rng.uniform(1e-8, 1e8, size=(len(XYZ2CAMS), 1, 1))
    xyz2cam = (XYZ2CAMS * w).sum(0) / w.sum()
    rgb2cam = xyz2cam @ RGB2XYZ
    return rgb2cam / rgb2cam.sum(axis=1, keepdims=True)


def random_gains(rng: np.random.Generator) -> tuple[float, float, float]:
    """``(rgb_gain, red_gain, blue_gain)`` drawn as in Brooks et al. 2019."""
    rgb_gain = 1.0 / rng.normal(0.8, 0.1)
    return float(rgb_gain), float(rng.uniform(1.9, 2.4)), float(rng.uniform(1.5, 1.9))


def _wb(meta: CameraMeta) -> np.ndarray:
    return np.array([meta.red_gain, 1.0, meta.blue_gain]) * meta.rgb_gain


def safe_invert_gains(image: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Divide linear camera RGB by ``gains`` (3,), but blend towards no division for gray
    levels above :data:`INFLECTION`, so highlights stay unclipped (Brooks et al. 2019)."""
    inv = 1.0 / np.asarray(gains, dtype=np.float64)
    gray = image.mean(axis=-1, keepdims=True)
    mask = (np.maximum(gray - INFLECTION, 0.0) / (1.0 - INFLECTION)) ** 2
    safe = np.maximum(mask + (1.0 - mask) * inv, inv)
    return image * safe


# --- mosaic / demosaic ---------------------------------------------------------------------


def mosaic(rgb: np.ndarray) -> np.ndarray:
    """RGGB Bayer mosaic of an HW3 array: R at even rows/cols, B at odd rows/cols, G elsewhere.

    Returns HW float64 (one sample per pixel).
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ShapeError(f"mosaic: expected an HW3 RGB array, got shape {rgb.shape}")
    out = rgb[..., 1].copy()
    out[0::2, 0::2] = rgb[0::2, 0::2, 0]
    out[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return out


_G_AT_RB = np.array(
    [[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0], [0, 0, -1, 0, 0]]
) / 8.0
_RB_AT_G_ROW = np.array(  # R at a G pixel of an R row (B at a G pixel of a B row)
    [[0, 0, 0.5, 0, 0], [0, -1, 0, -1, 0], [-1, 4, 5, 4, -1], [0, -1, 0, -1, 0], [0, 0, 0.5, 0, 0]]
) / 8.0
_RB_AT_G_COL = _RB_AT_G_ROW.T  # R at a G pixel of a B row (B at a G pixel of an R row)
_RB_AT_BR = np.array(
    [[0, 0, -1.5, 0, 0], [0, 2, 0, 2, 0], [-1.5, 0, 6, 0, -1.5], [0, 2, 0, 2, 0], [0, 0, -1.5, 0, 0]]
) / 8.0


def demosaic(raw: np.ndarray) -> np.ndarray:
    """Malvar-He-Cutler demosaicking of an RGGB mosaic (HW) -> HW3 float64.

    Gradient-corrected bilinear interpolation (Malvar, He & Cutler, "High-quality linear
    interpolation for demosaicing of Bayer-patterned color images", ICASSP 2004); borders
    mirrored (which keeps the Bayer phase). Exact on constant and linear-ramp images away
    from the borders; the sampled values are kept.
    """
    from scipy.ndimage import correlate

    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2:
        raise ShapeError(f"demosaic: expected an HW Bayer mosaic, got shape {raw.shape}")

    def f(k: np.ndarray) -> np.ndarray:
        return correlate(raw, k, mode="mirror")

    h, w = raw.shape
    row = np.arange(h)[:, None] % 2
    col = np.arange(w)[None, :] % 2
    r_site, b_site = (row == 0) & (col == 0), (row == 1) & (col == 1)
    g_in_r_row, g_in_b_row = (row == 0) & (col == 1), (row == 1) & (col == 0)
    g_at_rb, rb_row, rb_col, rb_diag = f(_G_AT_RB), f(_RB_AT_G_ROW), f(_RB_AT_G_COL), f(_RB_AT_BR)
    r = np.select([r_site, g_in_r_row, g_in_b_row, b_site], [raw, rb_row, rb_col, rb_diag])
    g = np.where(r_site | b_site, g_at_rb, raw)
    b = np.select([b_site, g_in_b_row, g_in_r_row, r_site], [raw, rb_row, rb_col, rb_diag])
    return np.stack([r, g, b], axis=-1)


# --- unprocess / noise / process -----------------------------------------------------------


def _rgb(image: np.ndarray, name: str) -> tuple[np.ndarray, bool, tuple[int, ...]]:
    """float64 HW3 copy of ``image`` and whether it was gray (HW or HW1)."""
    arr = check_image(image, name=name)
    gray = arr.ndim == 2 or arr.shape[2] == 1
    if arr.ndim == 3 and arr.shape[2] not in (1, 3):
        raise ShapeError(f"{name}: expected HW, HW1 or HW3, got shape {arr.shape}; drop alpha first")
    x = np.asarray(arr, dtype=np.float64)
    if gray:
        x = np.repeat(x.reshape(x.shape[0], x.shape[1], 1), 3, axis=2)
    return x, gray, arr.shape


def _back(rgb: np.ndarray, gray: bool, shape: tuple[int, ...]) -> np.ndarray:
    out = (rgb @ _GRAY).reshape(shape) if gray else rgb
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def unprocess(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, CameraMeta]:
    """sRGB image -> ``(raw, meta)``: a linear RGGB mosaic (HW float64 in [0, 1]) and the
    random camera parameters that :func:`process` needs to come back.

    image: HW3 float in [0, 1]. Steps (Brooks et al. 2019): inverse smoothstep, inverse
    gamma 2.2, inverse colour correction (random :func:`random_ccm`), safe inversion of the
    white-balance and brightness gains, clip to [0, 1], mosaic.
    """
    x, gray, _ = _rgb(image, "image")
    if gray:
        raise ShapeError("unprocess: expected an HW3 RGB image (camera_pipeline accepts gray)")
    rgb2cam = random_ccm(rng)
    rgb_gain, red, blue = random_gains(rng)
    meta = CameraMeta(rgb2cam, np.linalg.inv(rgb2cam), rgb_gain, red, blue)
    lin = np.maximum(inverse_smoothstep(x), 1e-8) ** 2.2
    cam = lin @ rgb2cam.T
    cam = np.clip(safe_invert_gains(cam, _wb(meta)), 0.0, 1.0)
    return mosaic(cam), meta


def sample_noise_levels(rng: np.random.Generator) -> tuple[float, float]:
    """``(shot, read)`` noise levels of a random ISO (Brooks et al. 2019).

    log shot ~ U[log 1e-4, log 1.2e-2]; log read = 2.18 log shot + 1.20 + N(0, 0.26).
    Both are variances on the [0, 1] raw scale: ``Var[raw] = shot * x + read``.
    """
    log_shot = rng.uniform(*LOG_SHOT_RANGE)
    log_read = READ_SLOPE * log_shot + READ_INTERCEPT + rng.normal(0.0, READ_SPREAD)
    return float(math.exp(log_shot)), float(math.exp(log_read))


def add_camera_noise(raw: np.ndarray, shot: float, read: float, rng: np.random.Generator) -> np.ndarray:
    """Heteroscedastic Gaussian approximation of Poisson-Gaussian sensor noise.

    ``raw + N(0, shot * raw + read)`` per sample (Brooks et al. 2019; Foi et al. 2008).
    raw: mosaic (any shape) in [0, 1]; shot, read: variances >= 0 on that scale.
    Returns float64 of raw's shape, not clipped (a raw file keeps negative readings).
    """
    if shot < 0 or read < 0:
        raise InvalidParameterError(f"shot and read must be >= 0, got {shot}, {read}")
    raw = np.asarray(raw, dtype=np.float64)
    var = shot * np.clip(raw, 0.0, None) + read
    return raw + rng.standard_normal(raw.shape) * np.sqrt(var)


def process(raw: np.ndarray, meta: CameraMeta) -> np.ndarray:
    """Raw RGGB mosaic -> sRGB HW3 float64 in [0, 1]: white balance and brightness gains,
    Malvar demosaic, colour correction, gamma 1/2.2, smoothstep (the inverse of
    :func:`unprocess` up to clipping, highlights and demosaicking)."""
    raw = np.asarray(raw, dtype=np.float64)
    gains = _wb(meta)
    row, col = np.arange(raw.shape[0])[:, None] % 2, np.arange(raw.shape[1])[None, :] % 2
    gain = np.where((row == 0) & (col == 0), gains[0], np.where((row == 1) & (col == 1), gains[2], gains[1]))
    rgb = np.clip(demosaic(np.clip(raw * gain, 0.0, 1.0)), 0.0, 1.0)
    rgb = np.clip(rgb @ meta.cam2rgb.T, 0.0, 1.0)
    return smoothstep(np.maximum(rgb, 1e-8) ** (1.0 / 2.2))


def unsharp_mask(image: np.ndarray, *, radius: float, amount: float) -> np.ndarray:
    """``x + amount * (x - G_radius * x)``, Gaussian std ``radius`` px; clipped to [0, 1]."""
    from scipy.ndimage import gaussian_filter

    x = np.asarray(image, dtype=np.float64)
    blurred = gaussian_filter(x, sigma=(radius, radius, 0) if x.ndim == 3 else radius, mode="reflect")
    return np.clip(x + amount * (x - blurred), 0.0, 1.0)


#: Default JPEG quality range of :func:`camera_pipeline` (in-camera JPEGs are high quality).
CAMERA_QUALITY = (80, 95)


def camera_pipeline(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    shot: float | None = None,
    read: float | None = None,
    jpeg: bool = True,
    quality: tuple[int, int] = CAMERA_QUALITY,
    sharpen: float = 0.5,
) -> np.ndarray:
    """Realistic camera noise on a clean sRGB image: unprocess, sensor noise, process, JPEG.

    image: HW, HW1 or HW3 float in [0, 1] (gray images go through as R=G=B and come back
        as MATLAB ``rgb2gray`` luma). shot, read: noise variances (raw scale); None draws
        both with :func:`sample_noise_levels`. jpeg: finish with :func:`jpeg_compress` at a
        quality uniform in ``quality`` (inclusive), 4:2:0. sharpen: probability of an
        unsharp mask (radius U[0.5, 1.5] px, amount U[0.2, 1.0]) after processing.
    Returns float32 in [0, 1] with ``image``'s shape. Deterministic for a seeded ``rng``.
    """
    x, gray, shape = _rgb(image, "image")
    raw, meta = unprocess(x, rng)
    if shot is None or read is None:
        s, r = sample_noise_levels(rng)
        shot, read = (s if shot is None else shot), (r if read is None else read)
    out = process(add_camera_noise(raw, shot, read, rng), meta)
    if rng.uniform() < sharpen:
        out = unsharp_mask(out, radius=rng.uniform(0.5, 1.5), amount=rng.uniform(0.2, 1.0))
    if jpeg:
        out = jpeg_compress(np.clip(out, 0.0, 1.0), int(rng.integers(quality[0], quality[1] + 1)))
    return _back(np.asarray(out, dtype=np.float64), gray, shape)


def camera_pair(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    shot: float | None = None,
    read: float | None = None,
    quality: tuple[int, int] = CAMERA_QUALITY,
    jpeg_probability: float = 1.0,
    sharpen: float = 0.5,
    noise_blur: float = 0.0,
    coarse_share: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, target)``: one raw scene rendered twice by the same random camera.

    Unlike :func:`camera_pipeline` (whose target is the sRGB input), the target here is the
    noise-free rendering of the same unprocessed mosaic (same white balance, colour matrix,
    demosaicking and sharpening), the way a real pair's reference (the mean of many shots)
    is made: a network trained on it removes the noise, not the camera's rendering. Only
    the noisy rendering is JPEG-compressed (probability ``jpeg_probability``, quality uniform
    in ``quality``). shot, read: raw-scale variances; None draws them with
    :func:`sample_noise_levels`. noise_blur: std (px) of a Gaussian low-pass applied to the
    rendered noise (noisy - target) before the JPEG: in-camera noise reduction and wider
    demosaicking correlate real noise more than Malvar's 5x5 filter does (lag-1
    autocorrelation of the residual: 0.72 on nam_real_noise, 0.48 here without, 0.65 /
    0.83 with 0.5 / 0.8 px). coarse_share: with ``noise_blur``, the weight w of the
    low-passed noise, rescaled to the rendered noise's RMS, in
    ``sqrt(1 - w^2) r + w G(r) std(r) / std(G(r))``: 1 keeps only the low-pass (fine grain
    smoothed away, RMS reduced), w < 1 gives grain plus blotches of about the same RMS as
    the rendered noise (real in-camera JPEGs keep ~half their noise RMS after a 2 px
    Gaussian blur; white noise keeps 0.14). Returns two float32 arrays in [0, 1] of
    ``image``'s shape.
    """
    x, gray, shape = _rgb(image, "image")
    raw, meta = unprocess(x, rng)
    if shot is None or read is None:
        s, r = sample_noise_levels(rng)
        shot, read = (s if shot is None else shot), (r if read is None else read)
    target = process(raw, meta)
    noisy = process(add_camera_noise(raw, shot, read, rng), meta)
    if rng.uniform() < sharpen:
        radius, amount = rng.uniform(0.5, 1.5), rng.uniform(0.2, 1.0)
        target = unsharp_mask(target, radius=radius, amount=amount)
        noisy = unsharp_mask(noisy, radius=radius, amount=amount)
    if noise_blur > 0:
        from scipy.ndimage import gaussian_filter

        if not 0.0 <= coarse_share <= 1.0:
            raise InvalidParameterError(f"coarse_share must be in [0, 1], got {coarse_share}")
        residual = np.asarray(noisy, dtype=np.float64) - target
        sig = (noise_blur, noise_blur, 0) if residual.ndim == 3 else noise_blur
        low = gaussian_filter(residual, sigma=sig, mode="reflect")
        if coarse_share < 1.0:
            gain = float(np.std(residual) / max(float(np.std(low)), 1e-12))
            low = math.sqrt(1.0 - coarse_share**2) * residual + coarse_share * gain * low
        noisy = np.clip(target + low, 0.0, 1.0)
    if rng.uniform() < jpeg_probability:
        noisy = jpeg_compress(np.clip(noisy, 0.0, 1.0), int(rng.integers(quality[0], quality[1] + 1)))
    return (_back(np.asarray(noisy, dtype=np.float64), gray, shape),
            _back(np.asarray(target, dtype=np.float64), gray, shape))


def low_light(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    stops: float,
    shot: float | None = None,
    read: float | None = None,
    quality: int | None = None,
) -> np.ndarray:
    """An under-exposed shot of a clean sRGB scene, through the same camera model.

    Unprocess to a linear raw mosaic (:func:`unprocess`), cut the exposure by ``stops``
    (the raw signal times ``2**-stops``, in linear light), add sensor noise at that lower
    signal (:func:`add_camera_noise`: shot noise grows relative to the signal, read noise
    stays), process back (white balance, demosaic, colour matrix, gamma, smoothstep tone
    curve) and, with ``quality``, save as a JPEG (4:2:0). image: HW, HW1 or HW3 float in
    [0, 1]; stops: >= 0; shot, read: raw-scale noise variances, ``None`` draws both with
    :func:`sample_noise_levels`. Returns float32 in [0, 1] of ``image``'s shape;
    deterministic for a seeded ``rng``.
    """
    if not np.isfinite(stops) or stops < 0:
        raise InvalidParameterError(f"stops must be a finite number >= 0, got {stops!r}")
    x, gray, shape = _rgb(image, "image")
    raw, meta = unprocess(x, rng)
    if shot is None or read is None:
        s, r = sample_noise_levels(rng)
        shot, read = (s if shot is None else shot), (r if read is None else read)
    out = process(add_camera_noise(raw * 2.0 ** -float(stops), shot, read, rng), meta)
    if quality is not None:
        out = jpeg_compress(np.clip(out, 0.0, 1.0), int(quality))
    return _back(np.asarray(out, dtype=np.float64), gray, shape)


# --- BSRGAN / SCUNet style mix -------------------------------------------------------------


def correlated_gaussian_noise(
    image: np.ndarray, sigma: float, rng: np.random.Generator, *, mode: str = "general"
) -> np.ndarray:
    """Add Gaussian noise whose channels are correlated (Zhang et al., BSRGAN 2021).

    mode: "iid" (independent per channel, std ``sigma``), "gray" (the same noise on every
    channel, i.e. luma-only), "general" (covariance ``(sigma/255)^2 U^T D U`` with a random
    orthogonal U and D uniform in [0, 1]: luma/chroma noise of random shape). sigma: 8-bit
    units. image: HW3 float. Returns float64, not clipped.
    """
    x = np.asarray(image, dtype=np.float64)
    s = sigma / 255.0
    if mode == "iid":
        return x + rng.standard_normal(x.shape) * s
    if mode == "gray":
        return x + rng.standard_normal(x.shape[:2] + (1,)) * s
    if mode != "general":
        raise InvalidParameterError(f"mode must be 'iid', 'gray' or 'general', got {mode!r}")
    u, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    cov = u.T @ np.diag(rng.uniform(0.0, 1.0, 3)) @ u
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(3))
    return x + (rng.standard_normal(x.shape) @ chol.T) * s


def _resize(x: np.ndarray, shape: tuple[int, int], interp: int) -> np.ndarray:
    import cv2

    out = cv2.resize(x.astype(np.float32), (shape[1], shape[0]), interpolation=interp)
    return out.reshape(shape + x.shape[2:]).astype(np.float64)


def realistic_mix(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    sigma_range: tuple[float, float] = (1.0, 25.0),
    quality: tuple[int, int] = (30, 95),
    camera_probability: float = 0.25,
) -> np.ndarray:
    """Random-order blind degradation of real-photo models (BSRGAN / SCUNet style).

    In a random order: mild Gaussian blur (std U[0.1, 1.5] px, p 0.5), resize down by
    U[0.5, 1] and back up (random linear/cubic/area, p 0.5), Gaussian noise (std in
    ``sigma_range``, 8-bit units; i.i.d. RGB, gray/luma-only or general channel-correlated
    with probabilities 0.4, 0.2, 0.4), the :func:`camera_pipeline` without its JPEG (p
    ``camera_probability``) and a JPEG (quality in ``quality``); then a second JPEG at the
    end. image: HW, HW1 or HW3 float in [0, 1]. Returns float32 in [0, 1] of its shape.
    """
    import cv2

    x, gray, shape = _rgb(image, "image")
    h, w = x.shape[:2]
    order = rng.permutation(5)
    for op in order:
        if op == 0 and rng.uniform() < 0.5:
            s = rng.uniform(0.1, 1.5)
            x = cv2.GaussianBlur(x.astype(np.float32), (0, 0), s, borderType=cv2.BORDER_REFLECT).astype(np.float64)
        elif op == 1 and rng.uniform() < 0.5:
            f = rng.uniform(0.5, 1.0)
            interps = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA)
            small = (max(2, round(h * f)), max(2, round(w * f)))
            x = _resize(x, small, interps[int(rng.integers(3))])
            x = _resize(x, (h, w), interps[int(rng.integers(2))])
        elif op == 2:
            mode = ("iid", "gray", "general")[int(rng.choice(3, p=[0.4, 0.2, 0.4]))]
            x = correlated_gaussian_noise(x, rng.uniform(*sigma_range), rng, mode=mode)
        elif op == 3 and rng.uniform() < camera_probability:
            x = camera_pipeline(np.clip(x, 0.0, 1.0), rng, jpeg=False).astype(np.float64)
        elif op == 4:
            x = jpeg_compress(np.clip(x, 0.0, 1.0), int(rng.integers(quality[0], quality[1] + 1)))
    x = jpeg_compress(np.clip(x, 0.0, 1.0), int(rng.integers(quality[0], quality[1] + 1)))
    return _back(np.asarray(x, dtype=np.float64), gray, shape)
