"""Full-reference metrics (PSNR, SSIM) computed exactly as the restoration papers do.

Both take a ``reference`` and a ``test`` image: HWC (or HW) float arrays in [0, 1], or
uint8 (divided by 255) or uint16 (divided by 65535). Everything is computed in float64 on
the [0, 255] scale, as BasicSR/KAIR ``calculate_psnr`` / ``calculate_ssim`` do.

Options (the same for both):

* ``crop_border``: pixels removed from each edge before measuring (SR papers: the scale).
* ``y_channel``: measure the luma of MATLAB ``rgb2ycbcr`` (ITU-R BT.601, studio swing,
  Y in [16, 235]) instead of all channels; a gray image is its own Y.
* ``y_rounding``: round Y*255 to integers first, as MATLAB ``rgb2ycbcr`` does for uint8
  input (the MATLAB evaluation scripts of the older SR papers). Needs ``y_channel=True``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from restora.color import rgb_to_ycbcr
from restora.errors import InvalidParameterError, ShapeError

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
DATA_RANGE = 255.0


def to_unit_float(image: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Return ``image`` as float64 in [0, 1] scale (uint8 / 255, uint16 / 65535, floats as-is).

    HW or HWC only. Raises :class:`InvalidParameterError` for other dtypes and
    :class:`ShapeError` for other layouts. Never mutates the input.
    """
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        out = arr.astype(np.float64) / 255.0
    elif arr.dtype == np.uint16:
        out = arr.astype(np.float64) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float64)
    else:
        raise InvalidParameterError(
            f"{name}: expected a float array in [0, 1], uint8 or uint16; got dtype {arr.dtype}. "
            "Convert it first, e.g. image.astype(np.float32) / 255 for 8-bit data."
        )
    if out.ndim not in (2, 3) or out.size == 0:
        raise ShapeError(
            f"{name}: expected an HW or HWC image array; got shape {arr.shape}. "
            "Pass one image (no batch axis), channels last."
        )
    return out


def check_crop(crop_border: object) -> int:
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)):
        raise InvalidParameterError(
            f"crop_border must be a non-negative integer (pixels per edge); got {crop_border!r}"
        )
    if crop_border < 0:
        raise InvalidParameterError(
            f"crop_border must be a non-negative integer (pixels per edge); got {crop_border}"
        )
    return int(crop_border)


def prepare_pair(
    reference: np.ndarray,
    test: np.ndarray,
    *,
    crop_border: int,
    y_channel: bool,
    y_rounding: bool,
    metric: Literal["psnr", "ssim"],
) -> tuple[np.ndarray, np.ndarray]:
    """Shared preprocessing: [0, 255] float64 HWC planes, Y if asked, border cropped."""
    crop = check_crop(crop_border)
    if y_rounding and not y_channel:
        raise InvalidParameterError(
            f"{metric}: y_rounding=True only applies to the Y channel; "
            "pass y_channel=True as well (or y_rounding=False)"
        )
    ref = to_unit_float(reference, name=f"{metric} reference")
    tst = to_unit_float(test, name=f"{metric} test")
    if ref.shape != tst.shape:
        raise ShapeError(
            f"{metric}: reference and test must have the same shape; got reference {ref.shape} "
            f"and test {tst.shape}. Crop the larger one (SR outputs: crop the HR image to a "
            "multiple of the scale) before measuring."
        )
    planes = []
    for arr in (ref, tst):
        if y_channel:
            if arr.ndim == 3 and arr.shape[-1] not in (1, 3):
                raise ShapeError(
                    f"{metric}: y_channel=True needs a gray (HW, HW1) or RGB (HW3) image; "
                    f"got shape {arr.shape}. Drop the alpha channel first."
                )
            y = rgb_to_ycbcr(arr, y_only=True) * DATA_RANGE
            if y_rounding:
                y = np.round(y)
            arr = y[..., None]
        else:
            arr = (arr if arr.ndim == 3 else arr[..., None]) * DATA_RANGE
        planes.append(arr)
    ref255, tst255 = planes
    if crop:
        h, w = ref255.shape[:2]
        if 2 * crop >= h or 2 * crop >= w:
            raise ShapeError(
                f"{metric}: crop_border={crop} removes the whole {h}x{w} image; "
                "use a smaller crop_border"
            )
        ref255 = ref255[crop:-crop, crop:-crop]
        tst255 = tst255[crop:-crop, crop:-crop]
    return ref255, tst255


def psnr(
    reference: np.ndarray,
    test: np.ndarray,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    y_rounding: bool = False,
) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(255^2 / MSE)`` on the [0, 255] scale.

    MSE is the mean over all pixels and channels (BasicSR ``calculate_psnr``). Returns
    ``inf`` when the images are identical. Raises :class:`ShapeError` when shapes differ.
    """
    ref, tst = prepare_pair(
        reference,
        test,
        crop_border=crop_border,
        y_channel=y_channel,
        y_rounding=y_rounding,
        metric="psnr",
    )
    mse = float(np.mean((ref - tst) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(DATA_RANGE**2 / mse))


def gaussian_window_1d(
    size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA
) -> np.ndarray:
    """Normalised 1-D Gaussian (MATLAB ``fspecial('gaussian')`` / ``cv2.getGaussianKernel``)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(plane: np.ndarray, g: np.ndarray) -> np.ndarray:
    """2-D correlation with the separable window ``outer(g, g)``, 'valid' region only."""
    from numpy.lib.stride_tricks import sliding_window_view

    k = g.size
    rows = sliding_window_view(plane, k, axis=0) @ g  # (H-k+1, W)
    return sliding_window_view(rows, k, axis=1) @ g  # (H-k+1, W-k+1)


def _ssim_plane(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> float:
    c1 = (SSIM_K1 * DATA_RANGE) ** 2
    c2 = (SSIM_K2 * DATA_RANGE) ** 2
    mu_x = _filter_valid(x, g)
    mu_y = _filter_valid(y, g)
    mu_x2, mu_y2, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    sigma_x2 = _filter_valid(x * x, g) - mu_x2
    sigma_y2 = _filter_valid(y * y, g) - mu_y2
    sigma_xy = _filter_valid(x * y, g) - mu_xy
    ssim_map = ((2 * mu_xy + c1) * (2 * sigma_xy + c2)) / (
        (mu_x2 + mu_y2 + c1) * (sigma_x2 + sigma_y2 + c2)
    )
    return float(ssim_map.mean())


def ssim(
    reference: np.ndarray,
    test: np.ndarray,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    y_rounding: bool = False,
) -> float:
    """Structural similarity as in the papers' code (Wang et al. 2004; BasicSR ``calculate_ssim``).

    11x11 Gaussian window (sigma 1.5), 'valid' filtering (no padding), C1 = (0.01*255)^2,
    C2 = (0.03*255)^2, on [0, 255] float64; SSIM map averaged per channel, then the mean
    over channels. No automatic downsampling (unlike Wang's 2009 ``ssim.m``), as in
    BasicSR/KAIR. The image must be at least 11x11 after cropping.
    """
    ref, tst = prepare_pair(
        reference,
        test,
        crop_border=crop_border,
        y_channel=y_channel,
        y_rounding=y_rounding,
        metric="ssim",
    )
    h, w = ref.shape[:2]
    if h < SSIM_WINDOW or w < SSIM_WINDOW:
        raise ShapeError(
            f"ssim: needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after crop_border; "
            f"got {h}x{w}"
        )
    g = gaussian_window_1d()
    return float(
        np.mean(
            [_ssim_plane(ref[..., c], tst[..., c], g) for c in range(ref.shape[-1])]
        )
    )
