"""NIQE, the "completely blind" no-reference quality score (lower is better).

Mittal, Soundararajan & Bovik, "Making a 'Completely Blind' Image Quality Analyzer",
IEEE Signal Processing Letters 20(3), 2013. Follows the official MATLAB release
(``niqe_release.zip``, LIVE/UT Austin) as BasicSR ``basicsr/metrics/niqe.py`` (1.4.2) ports
it, step for step:

1. luma: Y of MATLAB BT.601 YCbCr on the [0, 255] scale, rounded to integers (as MATLAB
   computes it from uint8 input); ``crop_border`` pixels removed from each edge before
   rounding; the image is then cropped to whole 96x96 blocks (top-left);
2. two scales (full, then MATLAB ``imresize`` by 0.5, bicubic with antialiasing); at each,
   MSCN coefficients ``(I - mu) / (sigma + 1)`` with the 7x7 Gaussian window of the model
   file (``scipy.ndimage.convolve``, mode 'nearest'). This step runs in float32, as in
   BasicSR; see :func:`niqe_features` for why;
3. per block (96x96, then 48x48): 18 features from an AGGD fit of the MSCN values and of
   the products with their 4 neighbours (grid search of the shape over 0.2:0.001:10);
4. fit a Gaussian (mean, covariance without NaN rows) to the block features and return
   ``sqrt((mu_p - mu)^T pinv((cov_p + cov) / 2) (mu_p - mu))`` against the pristine model.

The pristine model is not bundled (it is the authors' data, not ours): pass
``params=PATH`` or set ``$RESTORA_NIQE_PARAMS`` to ``niqe_pris_params.npz`` (keys
``mu_pris_param`` 1x36, ``cov_pris_param`` 36x36, ``gaussian_window`` 7x7), the published
model of the NIQE MATLAB release (LIVE, UT Austin; free use with its copyright notice kept),
as BasicSR and MMagic distribute it: e.g. ``basicsr/metrics/niqe_pris_params.npz`` inside
``pip download basicsr==1.4.2`` (sha256 2a7c182a...c4296).

Agreement: on the 19 Set5/Set14 HR images the scores match basicsr 1.4.2 to within
3.4e-4 (benchmarks/niqe_reference.py). Caveat: a small image has few blocks (280x280 gives
4), so its 36x36 feature covariance is rank-deficient. The score is then sensitive to tiny
feature changes; with a float64 MSCN, Set5 'head' moves by 0.37.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from pathlib import Path

import numpy as np

from restora.color import rgb_to_ycbcr
from restora.degrade import imresize
from restora.errors import MissingDataError, ShapeError
from restora.metrics.full_reference import check_crop, to_unit_float

BLOCK = 96
PARAMS_ENV = "RESTORA_NIQE_PARAMS"
"""Environment variable naming the NIQE pristine-model file when ``params`` is not given."""

_EXPECTED_SHAPES = {"mu_pris_param": (36,), "cov_pris_param": (36, 36), "gaussian_window": (7, 7)}


def load_pristine_model(
    params: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu (36,), cov (36, 36), gaussian window (7, 7)) of the NIQE pristine model.

    params: the ``niqe_pris_params.npz`` file; ``None`` reads ``$RESTORA_NIQE_PARAMS``.
    Raises :class:`~restora.errors.MissingDataError` when neither names a file, or when the
    file is missing, unreadable or lacks the expected arrays (the message names the file).
    """
    source = params if params is not None else os.environ.get(PARAMS_ENV)
    if not source:
        raise MissingDataError(
            "NIQE needs the published pristine model niqe_pris_params.npz (NIQE MATLAB release, "
            "LIVE/UT Austin; distributed in the basicsr and mmagic packages, e.g. "
            "basicsr/metrics/niqe_pris_params.npz in `pip download basicsr==1.4.2`): pass "
            f"params=PATH or set the environment variable {PARAMS_ENV}=PATH"
        )
    return _load_params(str(Path(source).expanduser().resolve()))


@functools.lru_cache(maxsize=4)
def _load_params(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k], dtype=np.float64) for k in _EXPECTED_SHAPES}
    except FileNotFoundError:
        raise MissingDataError(f"{path}: NIQE pristine-model file not found") from None
    except KeyError as exc:
        raise MissingDataError(
            f"{path}: not a NIQE pristine model: missing array {exc}; expected "
            f"{', '.join(_EXPECTED_SHAPES)}"
        ) from None
    except (OSError, ValueError) as exc:
        raise MissingDataError(f"{path}: cannot read the NIQE pristine model ({exc})") from None
    arrays["mu_pris_param"] = arrays["mu_pris_param"].reshape(-1)
    for key, shape in _EXPECTED_SHAPES.items():
        if arrays[key].shape != shape:
            raise MissingDataError(
                f"{path}: {key} has shape {arrays[key].shape}, expected {shape}"
            )
        arrays[key].setflags(write=False)
    return arrays["mu_pris_param"], arrays["cov_pris_param"], arrays["gaussian_window"]


@functools.lru_cache(maxsize=1)
def _gamma_table() -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import gamma

    gam = np.arange(0.2, 10.001, 0.001)
    r_gam = gamma(2.0 / gam) ** 2 / (gamma(1.0 / gam) * gamma(3.0 / gam))
    gam.setflags(write=False)
    r_gam.setflags(write=False)
    return gam, r_gam


def _aggd_fit(values: np.ndarray) -> tuple[float, float, float]:
    """AGGD shape alpha and left/right scales (Eq. 7 of the paper, moment matching)."""
    from scipy.special import gamma

    gam, r_gam = _gamma_table()
    v = values.ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt(np.mean(v[v < 0] ** 2)) if np.any(v < 0) else np.nan
        right_std = np.sqrt(np.mean(v[v > 0] ** 2)) if np.any(v > 0) else np.nan
        gammahat = left_std / right_std
        rhat = np.mean(np.abs(v)) ** 2 / np.mean(v**2)
        rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    # A NaN rhatnorm (a block with no negative or no positive values) makes argmin return 0,
    # i.e. alpha = 0.2, exactly as in BasicSR; the betas stay NaN and the row is dropped from
    # the covariance (but alpha still enters the NaN-mean, as in the reference).
    alpha = float(gam[np.argmin((r_gam - rhatnorm) ** 2)])
    ratio = math.sqrt(gamma(1.0 / alpha) / gamma(3.0 / alpha))
    return alpha, float(left_std * ratio), float(right_std * ratio)


def _block_features(block: np.ndarray) -> list[float]:
    """The 18 NIQE features of one MSCN block."""
    from scipy.special import gamma

    alpha, beta_l, beta_r = _aggd_fit(block)
    feat = [alpha, (beta_l + beta_r) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        alpha, beta_l, beta_r = _aggd_fit(block * np.roll(block, shift, axis=(0, 1)))
        mean = (beta_r - beta_l) * gamma(2.0 / alpha) / gamma(1.0 / alpha)  # Eq. 8
        feat.extend([alpha, mean, beta_l, beta_r])
    return feat


def _luma255(image: np.ndarray, *, y_channel: bool) -> np.ndarray:
    x = to_unit_float(image, name="niqe image")
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        return x * 255.0
    if x.shape[-1] != 3:
        raise ShapeError(
            f"niqe: expected a gray (HW, HW1) or RGB (HW3) image; got shape {x.shape}. "
            "Drop the alpha channel first."
        )
    if y_channel:
        return rgb_to_ycbcr(x, y_only=True) * 255.0
    # BasicSR convert_to='gray': cv2 BGR2GRAY, i.e. BT.601 luma 0.299 R + 0.587 G + 0.114 B.
    return (x @ np.array([0.299, 0.587, 0.114])) * 255.0


def niqe_features(
    luma: np.ndarray, *, dtype: type = np.float32, params: str | Path | None = None
) -> np.ndarray:
    """Block features (n_blocks, 36) of a [0, 255] luma plane already cropped to 96x96 blocks.

    ``dtype`` is the precision of the MSCN step. float32 (the default) is what BasicSR does:
    it computes ``E[x^2] - mu^2`` in float32, and the cancellation there moves single
    features by about 1e-3. The result matches BasicSR to about 1e-5 and the MATLAB value
    that BasicSR quotes (baboon 5.72957). float64 moves scores by up to about 0.01.
    """
    from scipy.ndimage import convolve

    _, _, window = load_pristine_model(params)
    nh, nw = luma.shape[0] // BLOCK, luma.shape[1] // BLOCK
    img = luma.astype(dtype)
    per_scale = []
    for scale in (1, 2):
        mu = convolve(img, window, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(img * img, window, mode="nearest") - mu * mu))
        mscn = ((img - mu) / (sigma + 1)).astype(np.float64)
        b = BLOCK // scale
        feats = [
            _block_features(mscn[ih * b : (ih + 1) * b, iw * b : (iw + 1) * b])
            for iw in range(nw)
            for ih in range(nh)
        ]
        per_scale.append(np.asarray(feats, dtype=np.float64))
        if scale == 1:
            # MATLAB imresize(im, 0.5): bicubic with antialiasing. The borders are mirrored,
            # as in MATLAB's contributions() and BasicSR's port.
            half = imresize(img.astype(np.float64) / 255.0, 0.5, boundary="symmetric")
            img = (half * 255.0).astype(dtype)
    return np.concatenate(per_scale, axis=1)


def niqe(
    image: np.ndarray,
    *,
    crop_border: int = 0,
    y_channel: bool = True,
    params: str | Path | None = None,
) -> float:
    """NIQE score of one image (lower = more natural; typical photos 2..8).

    image: HWC RGB or HW/HW1 gray; float in [0, 1], uint8 or uint16.
    crop_border: pixels removed from each edge first (as for PSNR).
    y_channel: measure the MATLAB BT.601 Y (default, as BasicSR ``convert_to='y'``);
        ``False`` uses 0.299 R + 0.587 G + 0.114 B (BasicSR ``convert_to='gray'``).
        Gray input is used as it is either way.
    params: the pristine-model file (see the module docstring); ``None`` = ``$RESTORA_NIQE_PARAMS``.

    Needs at least two 96x96 blocks (e.g. 192x96) after cropping, else :class:`ShapeError`.
    Returns NaN if no block has usable statistics (e.g. a constant image).
    """
    crop = check_crop(crop_border)
    luma = _luma255(image, y_channel=y_channel)
    if crop:
        if 2 * crop >= min(luma.shape):
            raise ShapeError(
                f"niqe: crop_border={crop} removes the whole {luma.shape[0]}x{luma.shape[1]} "
                "image; use a smaller crop_border"
            )
        luma = luma[crop:-crop, crop:-crop]
    luma = np.round(luma)  # MATLAB computes Y of uint8 input as uint8
    h, w = luma.shape
    nh, nw = h // BLOCK, w // BLOCK
    if nh * nw < 2:
        raise ShapeError(
            f"niqe: needs at least two {BLOCK}x{BLOCK} blocks (e.g. {2 * BLOCK}x{BLOCK}) after "
            f"crop_border; got {h}x{w}. Use a larger image."
        )
    luma = luma[: nh * BLOCK, : nw * BLOCK]
    mu_p, cov_p, _ = load_pristine_model(params)  # fail fast, before the feature work
    feats = niqe_features(luma, params=params)
    with (
        warnings.catch_warnings()
    ):  # all-NaN columns (flat image) -> NaN, handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        mu_d = np.nanmean(feats, axis=0)
    clean = feats[~np.isnan(feats).any(axis=1)]
    if clean.shape[0] < 2 or np.isnan(mu_d).any():
        return float("nan")
    cov_d = np.cov(clean, rowvar=False)
    diff = mu_p - mu_d
    quality = diff @ np.linalg.pinv((cov_p + cov_d) / 2.0) @ diff
    return float(np.sqrt(quality))
