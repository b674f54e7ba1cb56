"""Low-light enhancement: brighten an under-exposed photo without shifting its colours.

Every method here computes one gain per pixel and multiplies all channels by it, so hue and
saturation are kept (a gray image stays gray); the gain is capped at ``1 / max(R, G, B)`` so
no channel clips. With ``black_point`` a black level lifting the whole frame (a scan's film
base; :func:`remove_black_level`) is removed first, or brightening turns it into a coloured
veil. It is off by default: statistics cannot tell a veil from a scene with no deep black
(on bsd400_color photos darkened 1 stop, 8 of 20 read a black level of 8/255 or more). ``strength`` (0..1) blends the brightened image with the input. Brightening
reveals the noise that was hidden in the shadows: with ``denoise`` (default) the noise of the
brightened image is estimated and, above :data:`DENOISE_FROM`, removed by the default
denoiser for revealed sensor noise (``noise="shadows"``) from the one default table
(:func:`restora.defaults.pick`), so a new default denoiser serves here too.

* ``gamma``: a gamma curve on the luma, by default the one that takes the median luma to
  :data:`TARGET_MEDIAN`;
* ``clahe``: contrast-limited adaptive histogram equalisation of the luma (OpenCV; Zuiderveld,
  Graphics Gems IV 1994);
* ``lime``: LIME's illumination map (max-RGB, refined by structure-aware smoothing, gamma
  corrected; Guo, Li & Ling, IEEE TIP 2017), image / illumination;
* ``zerodce``: restora's shipped Zero-DCE++ curve estimator (:mod:`restora.archs.zerodce`),
  trained with zero-reference losses on synthetically darkened photos.

``lime`` is the default (:mod:`restora.defaults`): on CBSD68 photos darkened 3 and 5 stops it
has the best PSNR and SSIM; the curves of ``zerodce`` keep colours slightly better (hue
error 0.6-0.7 degrees lower) but fall 7 dB short at 5 stops (``docs/benchmarks.md``).

Parameters were tuned on ``bsd400_color`` training photos darkened by
:func:`restora.degrade.low_light` (never on a test set).
"""

from __future__ import annotations

import math

import numpy as np

from restora.defaults import pick
from restora.errors import InvalidParameterError
from restora.estimate import estimate_sigma
from restora.methods.denoisers import load_network
from restora.methods.learned import method_from_model
from restora.methods.registry import REGISTRY, register_method, run_method, tiling_for
from restora.models.inference import InferenceRunner
from restora.options import Execution
from restora.pipeline.tiling import run_tiled

#: BT.601 luma weights.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
#: The automatic gamma takes the median luma here: the median of the median luma of the
#: 400 ``bsd400_color`` training photos (0.41).
TARGET_MEDIAN = 0.41
#: Smallest automatic gamma (a stronger curve mostly amplifies noise).
GAMMA_MIN = 0.2
#: CLAHE clip limit (OpenCV units; of 2, 3, 4, 6, 8, 12 the best mean PSNR on 10 bsd400_color
#: photos darkened 3 and 5 stops: 12) and tile grid.
CLAHE_CLIP = 12.0
CLAHE_GRID = 8
#: LIME: weight of the smoothness term, gamma of the illumination map, std (pixels) of the
#: Gaussian of the structure-aware weights, epsilon of the weights (the paper's values).
LIME_ALPHA = 0.15
LIME_GAMMA = 0.8
LIME_SIGMA = 3.0
LIME_EPS = 1e-3
#: LIME solves for the illumination on at most this many pixels (area-downscaled copy,
#: the map upsampled bilinearly): a direct sparse solve of a 12 MP photo would take minutes.
LIME_MAX_PIXELS = 160_000
#: Black level (``black_point``): the per-channel median of the darkest BLACK_SHARE percent
#: of the pixels (by max RGB), removed before brightening when every channel's is at least
#: BLACK_MIN, half the black of studio-swing video / PhotoCD encodings (16 of 255; the
#: memorial church scans read 13/16/15).
BLACK_SHARE = 1.0
BLACK_MIN = 8.0 / 255.0
#: The shipped weights of ``zerodce``.
ZERODCE_WEIGHTS = "lowlight"
#: Denoise the brightened image when its estimated noise (8-bit units) is at least this.
DENOISE_FROM = 1.5
#: The denoiser runs at the estimated noise level times this: the estimate reads low on
#: brightened camera noise (correlated by demosaicking and JPEG, stronger in the shadows).
#: Of 1, 1.5, 2 and 3, 3 gave the best PSNR after ``gamma`` on 6 bsd400_color photos
#: darkened 3 and 5 stops (+0.21 / +0.36 dB over no denoising; 2: +0.18 / +0.31), but 3
#: over-smooths white noise, which the estimate reads at its level: 2 is the compromise.
#: Only a denoiser that takes a noise level uses it: the shipped default for revealed noise
#: (the table's ``noise="shadows"`` row, ``denoise_real``) is blind.
DENOISE_GAIN = 2.0


# --- shared steps ---------------------------------------------------------------------------


def luma(image: np.ndarray) -> np.ndarray:
    """HW float32 luma of an HWC image (BT.601 for RGB; the channel of a gray image)."""
    x = np.asarray(image, dtype=np.float32)
    return x[:, :, 0] if x.shape[2] == 1 else x[:, :, :3] @ LUMA


def apply_gain(image: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``image`` (HWC in [0, 1]) times the HW ``gain``, the same for every channel (hue and
    saturation kept), capped at ``1 / max_c image`` so that no channel exceeds 1."""
    x = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    value = x.max(axis=2)
    cap = 1.0 / np.maximum(value, 1e-6)
    g = np.minimum(np.maximum(np.asarray(gain, dtype=np.float32), 0.0), cap)
    return (x * g[:, :, None]).astype(np.float32)


def black_level(image: np.ndarray) -> np.ndarray:
    """The black level of each channel of ``image`` (HWC in [0, 1]): the median of the
    darkest :data:`BLACK_SHARE` percent of the pixels by max RGB (so a coloured border or
    a saturated colour cannot pass for black), read on at most ~1 MP."""
    x = np.asarray(image, dtype=np.float32)
    step = max(1, math.ceil(math.sqrt(x.shape[0] * x.shape[1] / 1e6)))
    flat = x[::step, ::step].reshape(-1, x.shape[2])
    value = flat.max(axis=1)
    dark = flat[value <= np.percentile(value, BLACK_SHARE)]
    return np.median(dark, axis=0).astype(np.float32)


def remove_black_level(image: np.ndarray) -> np.ndarray:
    """``(x - b) / (1 - b)`` per channel with ``b`` = :func:`black_level` when every
    channel's is at least :data:`BLACK_MIN` (a veil), else ``image`` unchanged."""
    x = np.asarray(image, dtype=np.float32)
    b = black_level(x)
    if b.min() < BLACK_MIN:
        return x
    b = np.minimum(b, 0.5)
    return np.clip((x - b) / (1.0 - b), 0.0, 1.0).astype(np.float32)


def _check_strength(strength: float | None) -> float:
    if strength is None:
        return 1.0
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) \
            or not 0.0 <= float(strength) <= 1.0:
        raise InvalidParameterError(f"strength must be a number in [0, 1]; got {strength!r}")
    return float(strength)


def denoise_revealed(image: np.ndarray, *, execution: Execution | None = None
                     ) -> tuple[np.ndarray, float]:
    """Remove the noise brightening revealed: ``(result, sigma)``.

    sigma: the noise estimated on ``image`` (8-bit units, on the luma of colour images, as
    for JPEGs: brightened photos are mostly JPEGs with smoothed chroma). Below
    :data:`DENOISE_FROM` the image is returned as it is; otherwise the default denoiser for
    revealed noise on its channels (:func:`restora.defaults.pick` with ``noise="shadows"``:
    brightened shadows carry amplified sensor noise; the shipped weights, or their classical
    fallback) runs, at ``DENOISE_GAIN * sigma`` when it takes a noise level, tiled as the
    runner tiles (``execution``: device, precision, tile, overlap, batch).
    """
    execution = Execution() if execution is None else execution
    sigma = float(estimate_sigma(image, luma_only=image.shape[2] == 3))
    if sigma < DENOISE_FROM:
        return image, sigma
    chosen = pick("denoise", channels=image.shape[2], noise="shadows")
    if chosen.method is None:
        info = method_from_model(load_network(str(chosen.weights)), task="denoise",
                                 execution=execution)
    else:
        info = REGISTRY.get(chosen.method)
    kwargs = dict(chosen.options)
    if "sigma" in info.options:
        kwargs["sigma"] = min(DENOISE_GAIN * sigma, 255.0)
    out = run_tiled(lambda t: run_method(info, t, **kwargs), image,
                    **tiling_for(info, execution, *image.shape[:2]))
    return out, sigma


def finish(image: np.ndarray, brightened: np.ndarray, *, strength: float, denoise: bool,
           execution: Execution | None) -> np.ndarray:
    """Blend ``brightened`` with ``image`` by ``strength`` (0 = the input), then, with
    ``denoise``, remove the noise the blend reveals (:func:`denoise_revealed`)."""
    x = np.asarray(image, dtype=np.float32)
    out = x + strength * (np.asarray(brightened, dtype=np.float32) - x)
    if denoise:
        out = denoise_revealed(out, execution=execution)[0]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _enhance(image: np.ndarray, gain_fn, strength: float | None, denoise: bool,
             black_point: bool, execution: Execution | None) -> np.ndarray:
    """Common frame of the gain methods: strength 0 returns a copy of the input; the black
    level is removed first (``black_point``), the gain computed and applied on the result."""
    s = _check_strength(strength)
    if s == 0.0:
        return np.array(image, dtype=np.float32)
    x = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    base = remove_black_level(x) if black_point else x
    return finish(x, apply_gain(base, gain_fn(base)), strength=s, denoise=denoise,
                  execution=execution)


# --- gamma ----------------------------------------------------------------------------------


def auto_gamma(image: np.ndarray) -> float:
    """The gamma that takes the median luma of ``image`` to :data:`TARGET_MEDIAN`, in
    [:data:`GAMMA_MIN`, 1] (1: the photo is bright enough already)."""
    median = float(np.median(luma(image)))
    if median <= 0.0:
        return GAMMA_MIN
    if median >= TARGET_MEDIAN:
        return 1.0
    return float(np.clip(math.log(TARGET_MEDIAN) / math.log(median), GAMMA_MIN, 1.0))


def gamma_gain(image: np.ndarray, gamma: float) -> np.ndarray:
    """The HW gain ``Y**gamma / Y`` of a gamma curve on the luma ``Y`` (1 where Y = 0)."""
    y = luma(image).astype(np.float64)
    safe = np.maximum(y, 1e-6)
    return np.where(y > 0, safe ** (gamma - 1.0), 1.0).astype(np.float32)


@register_method(
    "gamma",
    task="lowlight",
    description="Gamma curve on the luma (automatic gamma: median luma to 0.41), colours kept",
    halo=-1,
)
def gamma(image: np.ndarray, *, gamma: float | None = None, strength: float | None = None,
          denoise: bool = True, black_point: bool = False,
          execution: Execution | None = None) -> np.ndarray:
    """Brighten ``image`` (HWC float32 [0, 1]) by ``Y -> Y**gamma`` on its luma ``Y``, the
    same gain on every channel (capped so nothing clips). gamma: in (0, 1] brightens;
    ``None`` = :func:`auto_gamma`. strength, denoise, black_point: see the module doc."""
    if gamma is not None and (isinstance(gamma, bool) or not isinstance(gamma, (int, float))
                              or not 0.0 < float(gamma) <= 10.0):
        raise InvalidParameterError(f"method 'gamma': gamma must be in (0, 10]; got {gamma!r}")

    def gain(x: np.ndarray) -> np.ndarray:
        return gamma_gain(x, auto_gamma(x) if gamma is None else float(gamma))

    return _enhance(image, gain, strength, denoise, black_point, execution)


# --- CLAHE ----------------------------------------------------------------------------------


@register_method(
    "clahe",
    task="lowlight",
    description="Contrast-limited adaptive histogram equalisation of the luma (OpenCV), colours kept",
    halo=-1,
    citation="Zuiderveld, 'Contrast limited adaptive histogram equalization', Graphics Gems IV 1994",
)
def clahe(image: np.ndarray, *, clip_limit: float = CLAHE_CLIP, strength: float | None = None,
          denoise: bool = True, black_point: bool = False,
          execution: Execution | None = None) -> np.ndarray:
    """CLAHE (``cv2.createCLAHE``, 8x8 tiles) of the 8-bit luma of ``image`` (HWC float32
    [0, 1]), applied as the gain ``Y8_clahe / Y8`` on every channel (capped so nothing
    clips), so the output stays continuous within each 8-bit level (no posterisation).
    OpenCV's 16-bit CLAHE spreads the histogram over 65536 bins, where any clip limit
    clips nothing. clip_limit: OpenCV's clip limit (> 0). strength, denoise, black_point:
    see the module doc."""
    import cv2

    if isinstance(clip_limit, bool) or not isinstance(clip_limit, (int, float)) \
            or not 0.0 < float(clip_limit) <= 1000.0:
        raise InvalidParameterError(
            f"method 'clahe': clip_limit must be a number in (0, 1000]; got {clip_limit!r}")

    def gain(x: np.ndarray) -> np.ndarray:
        y8 = np.rint(np.clip(luma(x), 0.0, 1.0) * 255.0).astype(np.uint8)
        eq = cv2.createCLAHE(clipLimit=float(clip_limit),
                             tileGridSize=(CLAHE_GRID, CLAHE_GRID)).apply(y8)
        return eq.astype(np.float32) / np.maximum(y8.astype(np.float32), 0.5)

    return _enhance(image, gain, strength, denoise, black_point, execution)


# --- LIME -----------------------------------------------------------------------------------


def lime_illumination(image: np.ndarray, *, alpha: float = LIME_ALPHA,
                      sigma: float = LIME_SIGMA, eps: float = LIME_EPS) -> np.ndarray:
    """LIME's refined illumination map ``T`` (HW float32 in (0, 1]) of an HWC image.

    ``T0 = max_c image``; ``T`` minimises ``||T - T0||^2 + alpha * sum_d W_d (d T)^2`` over
    horizontal and vertical forward differences ``d``, with LIME's structure-aware weights
    (strategy III) ``W_d = 1 / ((|G * d T0| + eps) (|d T0| + eps))``, ``G`` a Gaussian of
    std ``sigma`` pixels: one sparse linear solve (Guo, Li & Ling, "LIME: Low-light image
    enhancement via illumination map estimation", IEEE TIP 2017). Images above
    :data:`LIME_MAX_PIXELS` are solved on an area-downscaled copy and the map upsampled.
    """
    import cv2
    import scipy.sparse as sp
    from scipy.ndimage import gaussian_filter
    from scipy.sparse.linalg import spsolve

    t0_full = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0).max(axis=2)
    h, w = t0_full.shape
    factor = math.sqrt(h * w / LIME_MAX_PIXELS)
    t0 = t0_full
    if factor > 1:
        size = (max(1, round(w / factor)), max(1, round(h / factor)))
        t0 = cv2.resize(t0_full, size, interpolation=cv2.INTER_AREA)
    t0 = t0.astype(np.float64)
    sh, sw = t0.shape
    dx = np.zeros_like(t0)
    dy = np.zeros_like(t0)
    dx[:, :-1] = t0[:, 1:] - t0[:, :-1]
    dy[:-1, :] = t0[1:, :] - t0[:-1, :]
    wx = 1.0 / ((np.abs(gaussian_filter(dx, sigma)) + eps) * (np.abs(dx) + eps))
    wy = 1.0 / ((np.abs(gaussian_filter(dy, sigma)) + eps) * (np.abs(dy) + eps))
    n = sh * sw
    # the weighted graph Laplacian of the 4-neighbour grid, sum_d D_d^T W_d D_d: one edge
    # per horizontal and vertical neighbour pair (i, j) with weight w
    idx = np.arange(n).reshape(sh, sw)
    i = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    j = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    weight = np.concatenate([wx[:, :-1].ravel(), wy[:-1, :].ravel()])
    degree = np.bincount(i, weight, n) + np.bincount(j, weight, n)
    lap = sp.coo_matrix((np.concatenate([-weight, -weight]),
                         (np.concatenate([i, j]), np.concatenate([j, i]))),
                        shape=(n, n)) + sp.diags(degree, dtype=np.float64)
    t = spsolve((sp.identity(n, dtype=np.float64) + alpha * lap).tocsc(),
                t0.ravel()).reshape(sh, sw)
    t = t.astype(np.float32)
    if factor > 1:
        t = cv2.resize(t, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(t, 1e-3, 1.0)


@register_method(
    "lime",
    task="lowlight",
    description="LIME: image / structure-aware illumination map (max-RGB, smoothed, gamma 0.8)",
    halo=-1,
    citation="Guo, Li & Ling, 'LIME: Low-light image enhancement via illumination map "
             "estimation', IEEE TIP 2017",
)
def lime(image: np.ndarray, *, gamma: float = LIME_GAMMA, alpha: float = LIME_ALPHA,
         strength: float | None = None, denoise: bool = True, black_point: bool = False,
         execution: Execution | None = None) -> np.ndarray:
    """LIME on ``image`` (HWC float32 [0, 1]): the gain ``1 / T**gamma`` of the refined
    illumination map :func:`lime_illumination` on every channel (capped so nothing clips).
    gamma: in (0, 1] (smaller = gentler); alpha: smoothness weight (> 0). The paper's BM3D
    step is the default denoiser here (``denoise``); strength, black_point: see the module
    doc."""
    for name, value, hi in (("gamma", gamma, 1.0), ("alpha", alpha, 100.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0.0 < float(value) <= hi:
            raise InvalidParameterError(f"method 'lime': {name} must be in (0, {hi:g}]; got {value!r}")

    def gain(x: np.ndarray) -> np.ndarray:
        return lime_illumination(x, alpha=float(alpha)) ** -float(gamma)

    return _enhance(image, gain, strength, denoise, black_point, execution)


# --- Zero-DCE++ -----------------------------------------------------------------------------


@register_method(
    "zerodce",
    task="lowlight",
    description="Zero-DCE++ curve estimator (restora's shipped 'lowlight' weights), colours kept",
    halo=-1,
    citation="Li, Guo & Loy, 'Learning to Enhance Low-Light Image via Zero-Reference Deep "
             "Curve Estimation', IEEE TPAMI 2021 (Zero-DCE: Guo et al., CVPR 2020)",
)
def zerodce(image: np.ndarray, *, strength: float | None = None, denoise: bool = True,
            black_point: bool = False, execution: Execution | None = None) -> np.ndarray:
    """Brighten ``image`` (HWC float32 [0, 1], gray or RGB) with the shipped curve
    estimator (:data:`ZERODCE_WEIGHTS`), run whole (the curve map is estimated on a copy of
    at most 512 pixels a side) on ``execution``'s device. strength, denoise, black_point:
    see the module doc."""
    s = _check_strength(strength)
    if s == 0.0:
        return np.array(image, dtype=np.float32)
    execution = Execution() if execution is None else execution
    runner = InferenceRunner.for_execution(load_network(ZERODCE_WEIGHTS), execution)
    x = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    base = remove_black_level(x) if black_point else x
    return finish(x, runner(base), strength=s, denoise=denoise, execution=execution)


__all__ = ["DENOISE_FROM", "TARGET_MEDIAN", "apply_gain", "auto_gamma", "black_level", "clahe",
           "denoise_revealed", "finish", "gamma", "gamma_gain", "lime", "lime_illumination",
           "luma", "remove_black_level", "zerodce"]
