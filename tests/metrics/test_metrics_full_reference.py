"""PSNR / SSIM against hand-computed values, an independent SSIM loop and scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest

from restora.errors import InvalidParameterError, ShapeError
from restora.metrics import psnr, ssim

# MATLAB BT.601 luma weights (per unit RGB, on the 0..255 output scale)
KR, KG, KB = 65.481, 128.553, 24.966


def _rand_u8(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


# --- PSNR ---------------------------------------------------------------------------------


def test_psnr_offset_of_one_level_is_48_1308_db() -> None:
    ref = _rand_u8((20, 24, 3)) // 2  # <= 127, so +1 cannot overflow
    test = ref + 1
    assert psnr(ref, test) == pytest.approx(20 * math.log10(255), abs=1e-9)
    assert psnr(ref, test) == pytest.approx(48.1308, abs=1e-4)
    # the same in float [0, 1] and in uint16
    assert psnr(ref / 255.0, test / 255.0) == pytest.approx(48.1308, abs=1e-4)
    ref16 = ref.astype(np.uint16) * 257
    assert psnr(ref16, ref16 + 257) == pytest.approx(48.1308, abs=1e-4)


def test_psnr_known_mse() -> None:
    ref = np.zeros((8, 8), dtype=np.uint8) + 100
    test = ref.copy()
    test[::2] += 4  # half the pixels off by 4 -> MSE = 8
    assert psnr(ref, test) == pytest.approx(10 * math.log10(255**2 / 8), abs=1e-12)
    assert psnr(ref, test) == pytest.approx(39.1000, abs=1e-4)


def test_psnr_identical_is_inf_and_symmetric() -> None:
    a = _rand_u8((16, 16, 3))
    assert psnr(a, a) == math.inf
    b = _rand_u8((16, 16, 3), seed=1)
    assert psnr(a, b) == psnr(b, a)


def test_psnr_does_not_mutate_inputs() -> None:
    a = np.random.default_rng(0).random((12, 12, 3)).astype(np.float32)
    b = a + 0.01
    a0, b0 = a.copy(), b.copy()
    psnr(a, b, y_channel=True, crop_border=2)
    ssim(a, b, y_channel=True)
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


def test_crop_border_removes_only_the_border() -> None:
    ref = np.full((20, 20, 3), 0.5)
    test = ref.copy()
    test[:2] += 0.1  # errors only in the top two rows
    assert math.isfinite(psnr(ref, test))
    assert psnr(ref, test, crop_border=2) == math.inf
    # one row of errors left out of 18: MSE = 25.5^2 / 18
    mse = (0.1 * 255) ** 2 / 18
    assert psnr(ref, test, crop_border=1) == pytest.approx(
        10 * math.log10(255**2 / mse), abs=1e-9
    )


def test_y_channel_uses_bt601_weights() -> None:
    ref = np.zeros((10, 10, 3)) + np.array([0.2, 0.4, 0.6])
    for channel, weight in enumerate((KR, KG, KB)):
        test = ref.copy()
        test[..., channel] += 0.1  # Y moves by weight * 0.1 on the 0..255 scale
        expected = 20 * math.log10(255 / (weight * 0.1))
        assert psnr(ref, test, y_channel=True) == pytest.approx(expected, abs=1e-9)
    # all channels instead: only one of three channels is off by 25.5
    test = ref.copy()
    test[..., 0] += 0.1
    assert psnr(ref, test) == pytest.approx(
        10 * math.log10(255**2 / (25.5**2 / 3)), abs=1e-9
    )


def test_gray_image_is_its_own_y() -> None:
    ref = _rand_u8((16, 16))
    test = _rand_u8((16, 16), seed=3)
    assert psnr(ref, test, y_channel=True) == pytest.approx(psnr(ref, test), abs=1e-12)
    assert psnr(ref[..., None], test[..., None], y_channel=True) == pytest.approx(
        psnr(ref, test)
    )


def test_y_rounding_rounds_y_to_integers() -> None:
    # Y = 16 + (65.481 + 128.553 + 24.966) * v for gray RGB v: pick two values whose Y
    # differ by 0.2 and round to the same integer.
    v1 = (100.1 - 16) / 219.0
    v2 = (100.3 - 16) / 219.0
    ref = np.full((12, 12, 3), v1)
    test = np.full((12, 12, 3), v2)
    assert psnr(ref, test, y_channel=True) == pytest.approx(
        20 * math.log10(255 / 0.2), abs=1e-6
    )
    assert psnr(ref, test, y_channel=True, y_rounding=True) == math.inf
    # ... and Y 100.4 vs 100.6 (0.2 apart) become 100 vs 101 (1 apart)
    ref = np.full((12, 12, 3), (100.4 - 16) / 219.0)
    test = np.full((12, 12, 3), (100.6 - 16) / 219.0)
    assert psnr(ref, test, y_channel=True, y_rounding=True) == pytest.approx(
        20 * math.log10(255)
    )


# --- SSIM ---------------------------------------------------------------------------------


def _ssim_double_loop(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al.'s formula written out pixel by pixel (2-D window, no separability)."""
    i, j = np.mgrid[-5:6, -5:6]
    w = np.exp(-(i**2 + j**2) / (2 * 1.5**2))
    w /= w.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    h, wd = x.shape
    vals = []
    for r in range(h - 10):
        for c in range(wd - 10):
            px, py = x[r : r + 11, c : c + 11], y[r : r + 11, c : c + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx = (w * (px - mx) ** 2).sum()
            vy = (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            vals.append(
                ((2 * mx * my + c1) * (2 * cxy + c2))
                / ((mx**2 + my**2 + c1) * (vx + vy + c2))
            )
    return float(np.mean(vals))


def test_ssim_identical_is_one() -> None:
    a = _rand_u8((32, 32, 3))
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)


def test_ssim_matches_direct_double_loop() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (16, 18)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 20, x.shape), 0, 255)
    expected = _ssim_double_loop(x, y)
    assert ssim(x / 255, y / 255) == pytest.approx(expected, abs=1e-12)
    assert 0.3 < expected < 0.99  # a non-trivial value


def test_ssim_constant_images_closed_form() -> None:
    # no variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    a, b = 100.0, 120.0
    c1 = (0.01 * 255) ** 2
    ref = np.full((15, 15, 3), a / 255)
    test = np.full((15, 15, 3), b / 255)
    assert ssim(ref, test) == pytest.approx(
        (2 * a * b + c1) / (a * a + b * b + c1), abs=1e-12
    )


def test_ssim_matches_skimage_on_the_valid_region() -> None:
    # scikit-image with gaussian_weights=True, sigma=1.5 (truncate 3.5 -> 11x11 window),
    # use_sample_covariance=False, data_range=255 computes the same map; it pads the image,
    # but averages only the map away from a 5-px border, i.e. exactly the 'valid' region.
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(7)
    ref = rng.integers(0, 256, (40, 36, 3)).astype(np.float64)
    test = np.clip(ref + rng.normal(0, 15, ref.shape), 0, 255)
    sk = structural_similarity(
        ref,
        test,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=-1,
    )
    assert ssim(ref / 255, test / 255) == pytest.approx(sk, abs=1e-10)


def test_ssim_is_mean_over_channels_and_y_channel_differs() -> None:
    rng = np.random.default_rng(2)
    ref = rng.random((24, 24, 3))
    test = np.clip(ref + rng.normal(0, 0.05, ref.shape), 0, 1)
    per_channel = [ssim(ref[..., c], test[..., c]) for c in range(3)]
    assert ssim(ref, test) == pytest.approx(np.mean(per_channel), abs=1e-12)
    from restora.color import rgb_to_ycbcr

    y_expected = ssim(rgb_to_ycbcr(ref, y_only=True), rgb_to_ycbcr(test, y_only=True))
    assert ssim(ref, test, y_channel=True) == pytest.approx(y_expected, abs=1e-12)


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [psnr, ssim])
def test_shape_mismatch_names_both_shapes(fn) -> None:
    with pytest.raises(
        ShapeError, match=r"reference \(16, 16, 3\) and test \(16, 17, 3\)"
    ):
        fn(np.zeros((16, 16, 3)), np.zeros((16, 17, 3)))


@pytest.mark.parametrize("fn", [psnr, ssim])
def test_bad_dtype_and_layout(fn) -> None:
    with pytest.raises(InvalidParameterError, match="got dtype int32"):
        fn(np.zeros((16, 16), np.int32), np.zeros((16, 16), np.int32))
    with pytest.raises(ShapeError, match=r"HW or HWC.*\(1, 16, 16, 3\)"):
        fn(np.zeros((1, 16, 16, 3)), np.zeros((1, 16, 16, 3)))


def test_option_errors() -> None:
    a = np.zeros((16, 16, 3))
    with pytest.raises(InvalidParameterError, match="y_rounding=True only applies"):
        psnr(a, a, y_rounding=True)
    with pytest.raises(
        InvalidParameterError, match="crop_border must be a non-negative integer"
    ):
        psnr(a, a, crop_border=-1)
    with pytest.raises(
        InvalidParameterError, match="crop_border must be a non-negative integer"
    ):
        psnr(a, a, crop_border=1.5)
    with pytest.raises(ShapeError, match="crop_border=8 removes the whole 16x16 image"):
        psnr(a, a, crop_border=8)
    with pytest.raises(
        ShapeError, match="at least 11x11 pixels after crop_border; got 10x10"
    ):
        ssim(a, a, crop_border=3)
    with pytest.raises(ShapeError, match="y_channel=True needs a gray.*Drop the alpha"):
        psnr(np.zeros((16, 16, 4)), np.zeros((16, 16, 4)), y_channel=True)
