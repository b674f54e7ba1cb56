"""Camera-noise pipeline (Brooks et al. 2019 unprocessing): each step against a closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from restora.degrade import (
    add_camera_noise,
    camera_pipeline,
    correlated_gaussian_noise,
    demosaic,
    inverse_smoothstep,
    mosaic,
    process,
    realistic_mix,
    sample_noise_levels,
    smoothstep,
    unprocess,
)
from restora.degrade.camera import INFLECTION, random_ccm, safe_invert_gains


def _smooth_rgb(h: int = 64, w: int = 64, lo: float = 0.25, hi: float = 0.6) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    planes = [lo + (hi - lo) * (0.5 + 0.5 * np.sin(2 * np.pi * (f * xx + 0.7 * yy))) for f in (0.5, 0.8, 1.1)]
    return np.stack(planes, axis=-1).astype(np.float32)


def test_smoothstep_closed_form_and_exact_inverse():
    x = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(smoothstep(x), 3 * x**2 - 2 * x**3, atol=1e-15)
    np.testing.assert_allclose(inverse_smoothstep(smoothstep(x)), x, atol=1e-9)
    np.testing.assert_allclose(smoothstep(inverse_smoothstep(x)), x, atol=1e-12)
    assert inverse_smoothstep(np.array(0.5)) == pytest.approx(0.5)
    assert inverse_smoothstep(np.array(0.15625)) == pytest.approx(0.25)  # 3/16 - 2/64


def test_random_ccm_keeps_white_and_is_invertible():
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = random_ccm(rng)
        np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-12)  # gray stays gray
        assert abs(np.linalg.det(m)) > 1e-3


def test_safe_gain_inversion_divides_below_the_inflection_and_keeps_white():
    gains = np.array([2.0, 1.0, 1.6])
    dark = np.full((2, 2, 3), 0.3)
    np.testing.assert_allclose(safe_invert_gains(dark, gains), dark / gains)
    white = np.ones((2, 2, 3))
    np.testing.assert_allclose(safe_invert_gains(white, gains), white)  # mask 1: gain 1
    mid = np.full((1, 1, 3), (1 + INFLECTION) / 2)
    out = safe_invert_gains(mid, gains)
    assert np.all(out >= mid / gains) and np.all(out <= mid)


def test_mosaic_pattern_is_rggb():
    rgb = np.zeros((4, 6, 3))
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 1.0, 2.0, 3.0
    expected = np.array([[1, 2] * 3, [2, 3] * 3] * 2, dtype=float)
    np.testing.assert_array_equal(mosaic(rgb), expected)


def test_malvar_demosaic_exact_on_linear_images_and_keeps_samples():
    yy, xx = np.mgrid[0:32, 0:40].astype(float)
    rgb = np.stack([0.1 + 0.01 * xx, 0.2 + 0.005 * yy + 0.004 * xx, 0.7 - 0.006 * yy], axis=-1)
    raw = mosaic(rgb)
    out = demosaic(raw)
    np.testing.assert_allclose(out[2:-2, 2:-2], rgb[2:-2, 2:-2], atol=1e-12)  # away from borders
    np.testing.assert_allclose(mosaic(out), raw, atol=1e-12)
    const = np.full((9, 11, 3), [0.2, 0.5, 0.8])
    np.testing.assert_allclose(demosaic(mosaic(const)), const, atol=1e-12)  # borders too


def test_process_inverts_unprocess_without_noise():
    clean = _smooth_rgb()
    for seed in range(5):
        raw, meta = unprocess(clean, np.random.default_rng(seed))
        assert raw.shape == clean.shape[:2] and raw.min() >= 0 and raw.max() <= 1
        err = np.abs(process(raw, meta) - clean)[2:-2, 2:-2] * 255
        # the only loss is demosaicking the (smooth) image: about a grey level at most
        assert err.max() < 1.5 and err.mean() < 0.2
    flat = np.full((16, 16, 3), [0.3, 0.45, 0.2], np.float32)  # demosaicking is exact here
    raw, meta = unprocess(flat, np.random.default_rng(9))
    np.testing.assert_allclose(process(raw, meta), flat, atol=1e-6)


def test_camera_noise_variance_is_shot_times_signal_plus_read():
    rng = np.random.default_rng(1)
    shot, read = 4e-3, 2e-5
    for x in (0.05, 0.3, 0.8):
        raw = np.full((400, 400), x)
        noisy = add_camera_noise(raw, shot, read, rng)
        var = float(np.var(noisy - raw))
        assert var == pytest.approx(shot * x + read, rel=0.02)  # 160k samples: ~0.35 % sd
        assert abs(float(np.mean(noisy - raw))) < 4 * math.sqrt((shot * x + read) / raw.size)


def test_noise_levels_follow_the_log_linear_read_shot_law():
    rng = np.random.default_rng(2)
    levels = np.array([sample_noise_levels(rng) for _ in range(4000)])
    ls, lr = np.log(levels[:, 0]), np.log(levels[:, 1])
    assert ls.min() >= math.log(1e-4) and ls.max() <= math.log(1.2e-2)
    slope, intercept = np.polyfit(ls, lr, 1)
    assert slope == pytest.approx(2.18, abs=0.03)
    assert intercept == pytest.approx(1.20, abs=0.2)
    assert float(np.std(lr - (2.18 * ls + 1.20))) == pytest.approx(0.26, rel=0.05)


def test_camera_pipeline_is_seeded_keeps_shape_and_range():
    clean = _smooth_rgb(48, 40)
    a = camera_pipeline(clean, np.random.default_rng(7))
    b = camera_pipeline(clean, np.random.default_rng(7))
    c = camera_pipeline(clean, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == clean.shape and a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    gray = camera_pipeline(clean[..., :1], np.random.default_rng(7))
    assert gray.shape == (48, 40, 1)
    assert camera_pipeline(clean[..., 0], np.random.default_rng(7)).shape == (48, 40)


def test_camera_pipeline_noise_grows_with_iso_and_vanishes_without_noise():
    clean = _smooth_rgb(96, 96)
    quiet = camera_pipeline(clean, np.random.default_rng(0), shot=0.0, read=0.0, jpeg=False, sharpen=0.0)
    assert np.abs(quiet - clean)[2:-2, 2:-2].max() * 255 < 1.5
    stds = []
    for shot in (1e-4, 1e-3, 1e-2):
        read = math.exp(2.18 * math.log(shot) + 1.2)
        out = camera_pipeline(clean, np.random.default_rng(0), shot=shot, read=read, jpeg=False, sharpen=0.0)
        stds.append(float(np.std(out - clean)) * 255)
    assert stds[0] < stds[1] < stds[2]
    assert 1.0 < stds[0] < 5.0 and stds[2] > 15.0


def test_correlated_gaussian_noise_channel_structure():
    x = np.full((256, 256, 3), 0.5)
    rng = np.random.default_rng(3)
    gray = correlated_gaussian_noise(x, 10, rng, mode="gray") - x
    np.testing.assert_allclose(gray[..., 0], gray[..., 2])
    iid = correlated_gaussian_noise(x, 10, rng, mode="iid") - x
    c = np.corrcoef(iid.reshape(-1, 3).T)
    assert np.abs(c - np.eye(3)).max() < 0.02
    assert float(np.std(iid)) * 255 == pytest.approx(10, rel=0.02)
    gen = correlated_gaussian_noise(x, 10, rng, mode="general") - x
    cov = np.cov(gen.reshape(-1, 3).T) * 255**2
    assert np.trace(cov) < 3 * 100 * 1.05  # U^T D U with D in [0, 1]: eigenvalues <= sigma^2


def test_realistic_mix_is_seeded_keeps_shape_and_range():
    clean = _smooth_rgb(40, 48)
    a = realistic_mix(clean, np.random.default_rng(4))
    np.testing.assert_array_equal(a, realistic_mix(clean, np.random.default_rng(4)))
    assert a.shape == clean.shape and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert float(np.std(a - clean)) > 0.5 / 255
    outs = [realistic_mix(clean, np.random.default_rng(s)) for s in range(6)]
    assert len({o.tobytes() for o in outs}) == 6


def test_input_is_not_modified():
    clean = _smooth_rgb(32, 32)
    before = clean.copy()
    camera_pipeline(clean, np.random.default_rng(0))
    realistic_mix(clean, np.random.default_rng(0))
    unprocess(clean, np.random.default_rng(0))
    np.testing.assert_array_equal(clean, before)
