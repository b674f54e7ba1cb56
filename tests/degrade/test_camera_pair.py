"""camera_pair: one raw scene rendered twice (noisy and noise-free) by the same camera."""

from __future__ import annotations

import numpy as np

from restora.degrade import camera_pair, process, unprocess


def _scene(h: int = 96, w: int = 96) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    planes = [0.3 + 0.3 * (0.5 + 0.5 * np.sin(2 * np.pi * (f * xx + 0.6 * yy))) for f in (0.7, 1.0, 1.3)]
    return np.stack(planes, axis=-1).astype(np.float32)


def _lag1(residual: np.ndarray) -> float:
    r = residual - residual.mean(axis=(0, 1))
    return float((r[:, 1:] * r[:, :-1]).mean() / (r * r).mean())


def test_target_is_the_noise_free_rendering_of_the_same_scene():
    scene = _scene()
    noisy, target = camera_pair(scene, np.random.default_rng(3), shot=0.0, read=0.0,
                                jpeg_probability=0.0, sharpen=0.0)
    np.testing.assert_array_equal(noisy, target)  # no noise, no JPEG: the same rendering
    raw, meta = unprocess(scene, np.random.default_rng(3))  # same seed: same camera
    np.testing.assert_allclose(target, np.clip(process(raw, meta), 0, 1), atol=1e-6)


def test_noise_power_follows_the_shot_level_and_blur_correlates_it():
    scene = _scene(128, 128)
    stds, lags = [], []
    for shot in (1e-4, 4e-4):
        noisy, target = camera_pair(scene, np.random.default_rng(0), shot=shot, read=1e-8,
                                    jpeg_probability=0.0, sharpen=0.0)
        stds.append(np.std(noisy.astype(np.float64) - target))
    # shot-limited noise: std ~ sqrt(shot), so 4x the shot level doubles it (gamma and tone
    # curve are the same for both)
    assert 1.8 < stds[1] / stds[0] < 2.2
    for blur in (0.0, 0.8):
        noisy, target = camera_pair(scene, np.random.default_rng(0), shot=4e-4, read=1e-8,
                                    jpeg_probability=0.0, sharpen=0.0, noise_blur=blur)
        lags.append(_lag1(noisy.astype(np.float64) - target))
    assert lags[0] < 0.6 and lags[1] > 0.75  # Malvar demosaic alone vs in-camera NR


def test_seeded_gray_and_input_untouched():
    scene = _scene(48, 48)
    before = scene.copy()
    a = camera_pair(scene, np.random.default_rng(1))
    b = camera_pair(scene, np.random.default_rng(1))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(scene, before)
    gray = camera_pair(scene[..., 0], np.random.default_rng(1))
    assert gray[0].shape == gray[1].shape == (48, 48) and gray[0].dtype == np.float32
