"""Colour augmentation for training (restora.degrade.colour_jitter): closed forms."""

import numpy as np
import pytest

from restora.degrade import colour_jitter, hue_rotation


def test_hue_rotation_is_a_rotation_about_the_gray_axis():
    for degrees in (-25.0, 7.0, 90.0):
        m = hue_rotation(degrees)
        np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-6)  # orthogonal
        np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-6)  # proper rotation
        np.testing.assert_allclose(m @ np.ones(3), np.ones(3), atol=1e-6)  # gray stays gray
    # a third of a turn permutes the primaries: red -> green -> blue -> red
    np.testing.assert_allclose(hue_rotation(120.0) @ [1, 0, 0], [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(hue_rotation(120.0) @ [0, 1, 0], [0, 0, 1], atol=1e-6)


def test_neutral_settings_return_the_image():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.05, 0.9, (16, 16, 3)).astype(np.float32)
    y = colour_jitter(x, np.random.default_rng(1), white_balance=(1, 1), exposure_stops=(0, 0),
                      saturation=(1, 1), hue_degrees=0.0)
    np.testing.assert_allclose(y, x, atol=2e-6)


def test_saturation_scales_chroma_about_luma_and_gray_is_untouched():
    x = np.array([[[0.6, 0.4, 0.2], [0.5, 0.5, 0.5]]], np.float32)
    y = colour_jitter(x, np.random.default_rng(0), white_balance=(1, 1), exposure_stops=(0, 0),
                      saturation=(1.5, 1.5), hue_degrees=0.0)
    luma = x[0, 0] @ [0.299, 0.587, 0.114]
    np.testing.assert_allclose(y[0, 0], luma + 1.5 * (x[0, 0] - luma), atol=1e-6)
    np.testing.assert_allclose(y[0, 1], x[0, 1], atol=1e-6)


def test_exposure_clips_per_channel_like_a_camera():
    red = np.array([[[0.9, 0.2, 0.1]]], np.float32)
    y = colour_jitter(red, np.random.default_rng(0), white_balance=(1, 1),
                      exposure_stops=(1, 1), saturation=(1, 1), hue_degrees=0.0)
    assert y[0, 0, 0] == pytest.approx(1.0)  # red saturates
    assert 0.2 < y[0, 0, 1] < 0.35 and 0.1 < y[0, 0, 2] < 0.2  # the others brighten, unclipped


def test_gray_and_range():
    g = np.random.default_rng(0).uniform(size=(8, 8, 1)).astype(np.float32)
    np.testing.assert_array_equal(colour_jitter(g, np.random.default_rng(0)), g)
    x = np.random.default_rng(1).uniform(size=(32, 32, 3)).astype(np.float32)
    outs = [colour_jitter(x, np.random.default_rng(s)) for s in range(5)]
    assert all(o.dtype == np.float32 and o.min() >= 0 and o.max() <= 1 for o in outs)
    assert len({round(float(o.mean()), 4) for o in outs}) == 5  # seeded, different draws
    np.testing.assert_array_equal(colour_jitter(x, np.random.default_rng(3)), outs[3])
