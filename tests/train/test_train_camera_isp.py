"""The "camera_isp" and "real_mix" training degradations: blind, seeded, right shapes."""

from __future__ import annotations

import numpy as np
import pytest

from restora.train.config import (
    DEGRADATIONS,
    DataConfig,
    DegradationConfig,
    config_from_dict,
)
from restora.train.data import PatchSampler


def _sampler(kind: str, channels: int = 3) -> PatchSampler:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64] / 64
    base = (0.5 + 0.3 * np.sin(2 * np.pi * (xx + 0.5 * yy)))[..., None] * np.array([1.0, 0.8, 0.6])
    img = np.clip(base[..., :channels] * 255 + rng.normal(0, 2, (64, 64, channels)), 0, 255).astype(np.uint8)
    sampler = PatchSampler.__new__(PatchSampler)  # skip the folder: in-memory images
    sampler.images = [img]
    sampler.data = DataConfig(train=["unused"], channels=channels, patch_size=24, batch_size=3)
    sampler.degradation = DegradationConfig(kind=kind)
    sampler.seed, sampler.lr_output = 5, False
    return sampler


@pytest.mark.parametrize("kind", ["camera_isp", "real_mix"])
def test_batch_shapes_range_targets_and_seed(kind):
    assert kind in DEGRADATIONS
    sampler = _sampler(kind)
    batch = sampler.batch(0)
    assert batch.inputs.shape == batch.targets.shape == (3, 3, 24, 24)
    assert batch.inputs.dtype == np.float32 and 0 <= batch.inputs.min() and batch.inputs.max() <= 1
    assert batch.sigmas.shape == (3,) and np.all(batch.sigmas > 0)  # measured residual std
    np.testing.assert_allclose(batch.sigmas, np.std(batch.inputs - batch.targets, axis=(1, 2, 3)) * 255, rtol=1e-4)
    again = sampler.batch(0)
    np.testing.assert_array_equal(batch.inputs, again.inputs)
    np.testing.assert_array_equal(batch.targets, again.targets)
    assert not np.array_equal(batch.inputs, sampler.batch(1).inputs)


def test_gray_training_data_goes_through_the_camera_pipeline():
    batch = _sampler("camera_isp", channels=1).batch(0)
    assert batch.inputs.shape == (3, 1, 24, 24)


def test_recipe_accepts_the_new_kinds():
    for kind in ("camera_isp", "real_mix"):
        cfg = config_from_dict({"data": {"train": ["x"], "channels": 3}, "degradation": {"kind": kind},
                                "model": {"arch": "dncnn"}})
        assert cfg.degradation.kind == kind


def test_real_kind_targets_the_noise_free_rendering_and_mixes():
    from restora.train.data import degrade_pair

    assert "real" in DEGRADATIONS
    sampler = _sampler("real")
    sampler.degradation = DegradationConfig(kind="real", mix_fraction=0.0, clean_fraction=0.0,
                                            shot_min=1e-4, shot_max=1e-4)
    batch = sampler.batch(0)
    clean = np.stack([p.transpose(2, 0, 1) for p in [sampler.images[0][:24, :24]]])
    assert batch.inputs.shape == batch.targets.shape == (3, 3, 24, 24)
    # camera pairs: the target is the camera's rendering, not the sRGB patch itself
    assert not any(np.allclose(t, clean[0] / 255, atol=0.02) for t in batch.targets)
    np.testing.assert_array_equal(sampler.batch(0).inputs, batch.inputs)  # seeded per step
    patch = sampler.images[0][:24, :24].astype(np.float32) / 255
    only_clean = DegradationConfig(kind="real", mix_fraction=0.0, clean_fraction=1.0)
    target, degraded, sigma = degrade_pair(patch, only_clean, np.random.default_rng(0))
    assert target is patch and 0 < sigma < 3  # a quality 80-100 JPEG of the clean patch


def test_real_kind_fractions_are_validated():
    with pytest.raises(Exception, match="mix_fraction"):
        config_from_dict({"data": {"train": ["x"]},
                          "degradation": {"kind": "real", "mix_fraction": 0.8, "clean_fraction": 0.4}})
