"""Burst merging: noise falls as 1/sqrt(N), PSNR rises with N, motion is not ghosted."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from frames_helpers import clean_image, psnr

from restora.errors import InvalidParameterError
from restora.frames.align import warp
from restora.frames.burst import burst_noise, merge, merge_burst, wiener_merge
from restora.frames.synthetic import burst


def _static_burst(count: int, sigma: float, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    image = clean_image(size=128)
    rng = np.random.default_rng(seed)
    return image, [image + rng.normal(0, sigma / 255, image.shape).astype(np.float32)
                   for _ in range(count)]


@pytest.mark.parametrize("count", [2, 4, 8])
def test_mean_merge_noise_is_sigma_over_sqrt_n(count):
    """Closed form: the mean of N frames with i.i.d. noise of std sigma has std
    sigma / sqrt(N); the outlier test rejects (almost) nothing in a static burst."""
    sigma = 20.0
    image, frames = _static_burst(count, sigma)
    merged, effective = merge(frames, sigma=sigma, method="mean")
    std = float(np.std((merged - image) * 255))
    assert std == pytest.approx(sigma / np.sqrt(count), rel=0.04)
    assert effective == pytest.approx(count, rel=0.01)


def test_wiener_merge_reduces_noise_and_says_by_how_much():
    sigma = 20.0
    image, frames = _static_burst(8, sigma)
    merged, effective = merge(frames, sigma=sigma, method="wiener")
    std = float(np.std((merged - image) * 255))
    assert sigma / np.sqrt(8) < std < sigma / np.sqrt(4)  # shrinks towards the reference a bit
    assert 4 < effective <= 8


def test_the_burst_measures_its_own_noise():
    """White noise: the robust std of frame differences is sigma. Camera noise (demosaicked,
    its level set by brightness) fools a single-image estimator; the burst's measure stays
    close to the true std, in dark and in bright parts."""
    _, frames = _static_burst(4, 12.0)
    assert burst_noise(frames)[0] == pytest.approx(12.0, rel=0.05)
    clean, frames, truth = burst(clean_image(size=200), 4, size=(128, 128), shot=1e-2,
                                 read=1e-4, rng=np.random.default_rng(3))
    true = float(np.std((frames[0] - clean) * 255))
    aligned = [frames[0]] + [warp(f, t)[0] for f, t in zip(frames[1:], truth[1:])]
    sigma, sigma_map = burst_noise(aligned)
    assert sigma == pytest.approx(true, rel=0.2), (sigma, true)
    luma, residual = clean.mean(axis=2), (frames[0] - clean) * 255
    for band in (luma < np.quantile(luma, 0.2), luma > np.quantile(luma, 0.8)):
        assert sigma_map[band].mean() == pytest.approx(residual[band].std(), rel=0.3)


def test_wiener_merge_of_identical_frames_is_that_frame():
    image = clean_image(size=72)  # not a multiple of the tile: the padding is exercised
    merged, effective = wiener_merge([image, image, image], sigma=0.02)
    assert np.abs(merged - image).max() < 1e-5
    assert effective == pytest.approx(3.0, rel=1e-3)


@pytest.mark.parametrize("method", ["wiener", "mean"])
def test_psnr_rises_with_burst_length_with_motion(method):
    image = clean_image(size=200)
    clean, frames, _ = burst(image, 8, size=(128, 128), max_shift=4, max_rotation=0.5, sigma=20,
                             rng=np.random.default_rng(1))
    scores = []
    for count in (1, 2, 4, 8):
        merged = merge_burst(frames[:count], sigma=20, method=method).merged
        scores.append(psnr(merged, clean))
    assert all(b > a + 0.8 for a, b in itertools.pairwise(scores)), scores
    assert scores[-1] > scores[0] + 5, scores


@pytest.mark.parametrize("method", ["wiener", "mean"])
def test_an_object_moving_in_one_frame_is_not_ghosted(method):
    image, frames = _static_burst(6, 10.0, seed=2)
    box = (slice(40, 80), slice(40, 80))
    frames[3] = frames[3].copy()
    frames[3][box] = 0.95  # something passes in front of the camera in one frame
    merged, _ = merge(frames, sigma=10.0, method=method)
    plain = np.mean(frames, axis=0)
    outside = np.ones(image.shape[:2], bool)
    outside[30:90, 30:90] = False

    def error(out, where):
        return float(np.abs(out[where] - image[where]).mean())

    assert error(plain, box) > 3 * error(plain, outside)  # averaging alone leaves a ghost
    assert error(merged, box) < 1.5 * error(merged, outside)  # no more error than noise


def test_frames_outside_the_aligned_area_fall_back_to_the_reference():
    image, frames = _static_burst(3, 5.0)
    valid = [None, np.zeros(image.shape[:2], bool), None]
    frames[1] = np.zeros_like(image)  # nothing of it is valid: it must not count
    merged, _ = merge(frames, sigma=5.0, method="mean", valid=valid)
    assert np.abs(merged - image).mean() < 0.015  # the zeros would be 0.5 off


def test_unknown_merge_is_refused():
    _, frames = _static_burst(2, 5.0)
    with pytest.raises(InvalidParameterError, match="burst merge must be one of wiener, mean"):
        merge(frames, sigma=5.0, method="median")
