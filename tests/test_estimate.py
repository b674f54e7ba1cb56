"""Noise-level estimator: accuracy on synthetic Gaussian noise, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from restora.errors import ShapeError
from restora.estimate import estimate_sigma


def _images() -> list[np.ndarray]:
    from skimage import data

    return [
        data.astronaut()[:128, :128].astype(np.float32) / 255,
        data.coffee()[100:228, 200:328].astype(np.float32) / 255,
        (data.camera()[:128, :128].astype(np.float32) / 255)[:, :, None],
        (data.moon()[:128, :128].astype(np.float32) / 255)[:, :, None],
    ]


@pytest.mark.parametrize("sigma", [5, 15, 25, 50])
def test_estimate_is_accurate_on_average(sigma):
    errors = []
    for i, clean in enumerate(_images()):
        rng = np.random.default_rng(i)
        noisy = clean + rng.standard_normal(clean.shape).astype(np.float32) * sigma / 255
        est = estimate_sigma(noisy)
        assert abs(est - sigma) < max(2.0, 0.1 * sigma), (i, est)
        errors.append(est - sigma)
    assert abs(np.mean(errors)) < max(1.0, 0.05 * sigma)


def test_gray_hw_and_hw1_agree_and_input_not_modified():
    rng = np.random.default_rng(3)
    img = (0.5 + rng.standard_normal((64, 64)) * 10 / 255).astype(np.float32)
    before = img.copy()
    assert estimate_sigma(img) == estimate_sigma(img[:, :, None])
    assert estimate_sigma(img) == pytest.approx(10, abs=1.5)
    np.testing.assert_array_equal(img, before)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 7, 3), (3, 3, 1), (9, 5, 3), (40, 40, 3)])
def test_constant_images_give_zero(shape):
    assert estimate_sigma(np.full(shape, 0.3, np.float32)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("shape", [(2, 50, 1), (5, 9, 3), (16, 16, 3), (32, 32, 1)])
def test_tiny_images_give_a_rough_estimate(shape):
    rng = np.random.default_rng(1)
    est = estimate_sigma(0.5 + rng.standard_normal(shape) * 25 / 255)
    assert 12 < est < 40


def test_bad_shape_message():
    with pytest.raises(ShapeError, match=r"HW or HWC image; got shape \(2, 2, 2, 2\)"):
        estimate_sigma(np.zeros((2, 2, 2, 2)))


def test_the_gamma_quantile_table_is_scipys() -> None:
    """The quantiles kept to spare the automatic mode importing scipy.special are scipy's,
    for every patch size and channel count the estimator uses."""
    from scipy.special import gammaincinv

    from restora import estimate

    k = np.array([[-0.5, 0.0, 0.5]])
    for p in range(3, estimate.PATCH + 1):
        dh, dv = estimate._conv_matrix(k, p), estimate._conv_matrix(k.T, p)
        for c in (1, 3):
            rank = int(np.linalg.matrix_rank(dh.T @ dh + dv.T @ dv)) * c
            assert estimate._GAMMA_QUANTILES[rank] == float(gammaincinv(rank / 2.0, estimate.CONFIDENCE))
    assert estimate._gamma_quantile(4) == float(gammaincinv(2.0, estimate.CONFIDENCE))  # not kept
