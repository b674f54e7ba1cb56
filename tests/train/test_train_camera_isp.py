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
