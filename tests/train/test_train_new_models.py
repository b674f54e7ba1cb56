"""Trainer slices for the default models: LR-input super-resolution (EDSR), blind U-Net
deblocking (DRUNet without a noise map), camera-noise mixing and log-uniform sigma."""

from __future__ import annotations

import numpy as np
import pytest

from restora.errors import InvalidParameterError
from restora.train.config import DataConfig, DegradationConfig
from restora.train.data import PatchSampler, degrade
from tests.train.test_train_trainer import _config, folders  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _sampler(deg: DegradationConfig, *, lr_output: bool, patch: int = 32) -> PatchSampler:
    sampler = PatchSampler.__new__(PatchSampler)  # in-memory images, no folder
    rng = np.random.default_rng(1)
    sampler.images = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)]
    sampler.data = DataConfig(train=["unused"], channels=3, patch_size=patch, batch_size=3)
    sampler.degradation, sampler.seed, sampler.lr_output = deg, 0, lr_output
    return sampler


def test_sr_batches_for_upsampling_networks_are_matlab_bicubic_lr():
    from restora.degrade import imresize

    batch = _sampler(DegradationConfig(kind="sr", scale=4), lr_output=True).batch(0)
    assert batch.inputs.shape == (3, 3, 8, 8) and batch.targets.shape == (3, 3, 32, 32)
    for x, y in zip(batch.inputs, batch.targets, strict=True):
        expected = imresize(y.transpose(1, 2, 0), 0.25).transpose(2, 0, 1)
        np.testing.assert_allclose(x, expected, atol=1e-6)
    assert not batch.sigmas.any()


def test_second_order_lr_output_is_a_quarter_size_and_degraded():
    clean = np.random.default_rng(0).uniform(0.2, 0.8, (64, 64, 3)).astype(np.float32)
    deg = DegradationConfig(kind="second_order", scale=4, sigma_min=5, sigma_max=10)
    lr, sigma = degrade(clean, deg, np.random.default_rng(3), lr_output=True)
    assert lr.shape == (16, 16, 3) and sigma == 0.0
    full, _ = degrade(clean, deg, np.random.default_rng(3))
    assert full.shape == clean.shape and 0.0 <= lr.min() and lr.max() <= 1.0


def test_camera_fraction_mixes_camera_noise_with_measured_sigma():
    clean = np.full((32, 32, 3), 0.5, np.float32)
    deg = DegradationConfig(kind="gaussian", sigma_min=10, sigma_max=10, camera_fraction=1.0,
                            photons_min=20, photons_max=20, camera_jpeg=False)
    noisy, sigma = degrade(clean, deg, np.random.default_rng(0))
    assert sigma == pytest.approx(np.std(noisy.astype(np.float64) - 0.5) * 255)
    # Poisson noise at 20 e- full well: in linear light std sqrt(0.214*20)/20 ~ 0.10, far from 10/255
    assert sigma > 15
    gauss, s = degrade(clean, DegradationConfig(kind="gaussian", sigma_min=10, sigma_max=10),
                       np.random.default_rng(0))
    assert s == 10.0 and np.std(gauss - 0.5) * 255 == pytest.approx(10, rel=0.1)


def test_pair_fraction_adds_correlated_camera_noise_to_the_clean_target():
    from restora.train.data import degrade_pair

    # a smooth gradient: the residual is camera noise, not demosaicking of edges
    ramp = np.linspace(0.2, 0.8, 96, dtype=np.float32)
    clean = np.stack([np.add.outer(ramp, ramp) / 2] * 3, axis=-1) * np.array([1.0, 0.9, 0.7], np.float32)
    deg = DegradationConfig(kind="gaussian", pair_fraction=1.0, pair_map_gain=2.0, shot_min=2e-3,
                            shot_max=2e-3, noise_blur_max=0.8, noise_blur_fraction=1.0)
    target, noisy, sigma = degrade_pair(clean, deg, np.random.default_rng(0))
    assert target is clean
    residual = noisy.astype(np.float64) - clean
    rms = float(np.std(residual) * 255)
    assert sigma == pytest.approx(2.0 * rms) and 2 < rms < 40
    # in-camera noise reduction correlates neighbours (white noise: lag-1 autocorrelation ~0)
    r = residual - residual.mean(axis=(0, 1))
    lag1 = float((r[:, 1:] * r[:, :-1]).mean() / (r * r).mean())
    assert lag1 > 0.4
    # the share is per sample; 0 keeps AWGN at the drawn sigma (the old stream)
    shares = [degrade_pair(clean, DegradationConfig(kind="gaussian", pair_fraction=0.5, sigma_min=7,
                                                    sigma_max=7), np.random.default_rng(i))[2] != 7.0
              for i in range(40)]
    assert 8 <= sum(shares) <= 32
    _, plain, s = degrade_pair(clean, DegradationConfig(kind="gaussian", sigma_min=7, sigma_max=7),
                               np.random.default_rng(3))
    expected, _ = degrade(clean, DegradationConfig(kind="gaussian", sigma_min=7, sigma_max=7),
                          np.random.default_rng(3))
    assert s == 7.0 and np.array_equal(plain, expected)


def test_pair_fraction_is_validated(folders, tmp_path):  # noqa: F811
    with pytest.raises(InvalidParameterError, match="pair_fraction"):
        _config(folders, tmp_path / "r", degradation={"pair_fraction": 1.5})
    with pytest.raises(InvalidParameterError, match="pair_map_gain"):
        _config(folders, tmp_path / "r", degradation={"pair_map_gain": 0})
    with pytest.raises(InvalidParameterError, match="pair_fraction.*'gaussian' only, not 'jpeg'"):
        _config(folders, tmp_path / "r", degradation={"kind": "jpeg", "pair_fraction": 0.3})


def test_log_uniform_sigma_spans_decades():
    deg = DegradationConfig(kind="gaussian", sigma_min=0.5, sigma_max=5000, sigma_sampling="log_uniform")
    clean = np.zeros((4, 4, 1), np.float32)
    sigmas = np.array([degrade(clean, deg, np.random.default_rng(i))[1] for i in range(400)])
    assert sigmas.min() >= 0.5 and sigmas.max() <= 5000
    # log-uniform: the median is the geometric mean of the bounds (50), not their mean (2500)
    assert 25 < np.median(sigmas) < 100


def test_log_uniform_needs_a_positive_minimum(folders, tmp_path):  # noqa: F811
    with pytest.raises(InvalidParameterError, match="log_uniform.*sigma_min > 0"):
        _config(folders, tmp_path / "r", degradation={"sigma_sampling": "log_uniform"})


def test_edsr_trains_on_lr_patches_and_exports_an_upscaler(folders, tmp_path):  # noqa: F811
    from restora.models import load_model
    from restora.train.trainer import train

    cfg = _config(folders, tmp_path / "sr", steps=3, data={"patch_size": 16},
                  degradation={"kind": "sr", "scale": 2},
                  model={"arch": "edsr", "options": {"scale": 2, "num_features": 8, "num_blocks": 1}})
    result = train(cfg, progress=False)
    desc = load_model(result.model_path)
    assert (desc.arch, desc.task, desc.scale, desc.needs_sigma) == ("edsr", "upscale", 2, False)
    img = np.random.default_rng(0).uniform(size=(10, 12)).astype(np.float32)
    assert desc(img).shape == (20, 24)
    assert result.val_psnr is not None and result.val_psnr > 15  # a near-identity x2 of smooth images


def test_upsampling_model_needs_a_matching_sr_degradation(folders, tmp_path):  # noqa: F811
    from restora.train.trainer import train

    cfg = _config(folders, tmp_path / "bad", steps=1, data={"patch_size": 16},
                  model={"arch": "edsr", "options": {"scale": 2, "num_features": 8, "num_blocks": 1}})
    with pytest.raises(InvalidParameterError, match="upsamples x2.*'sr' or 'second_order' with scale = 2"):
        train(cfg, progress=False)


def test_blind_unet_deblocker_has_no_noise_map(folders, tmp_path):  # noqa: F811
    from restora.models import load_model
    from restora.train.trainer import train

    cfg = _config(folders, tmp_path / "jpeg", steps=2, data={"patch_size": 16},
                  degradation={"kind": "jpeg", "quality_min": 10, "quality_max": 30},
                  model={"arch": "drunet", "options": {"channels": [4, 4, 4, 4], "num_blocks": 1,
                                                       "noise_map": False}})
    desc = load_model(train(cfg, progress=False).model_path)
    assert (desc.arch, desc.task, desc.needs_sigma) == ("drunet", "deblock", False)
    assert desc.model.m_head.in_channels == 1


def test_init_starts_from_earlier_weights_and_checks_them(folders, tmp_path):  # noqa: F811
    import torch

    from restora.models import load_model
    from restora.train.trainer import train

    model = {"arch": "ffdnet", "options": {"num_features": 8, "depth": 2}}
    first = train(_config(folders, tmp_path / "a", steps=3, model=model), progress=False)
    # zero learning rate: the fine-tuned weights stay exactly the initial ones
    tuned = train(_config(folders, tmp_path / "b", steps=2, model={**model, "init": str(first.model_path)},
                          optim={"lr": 1e-12, "min_lr": 0.0, "ema_decay": 0.0}), progress=False)
    a = load_model(first.model_path).model.state_dict()
    b = load_model(tuned.model_path).model.state_dict()
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-8, rtol=0)
    bad = _config(folders, tmp_path / "c", steps=1, model={"arch": "ffdnet", "init": str(first.model_path),
                                                           "options": {"num_features": 16, "depth": 2}})
    from restora.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="init .* does not fit"):
        train(bad, progress=False)
    other = _config(folders, tmp_path / "d", steps=1, model={"arch": "dncnn", "init": str(first.model_path),
                                                             "options": {"num_features": 8, "depth": 2}})
    with pytest.raises(InvalidParameterError, match="holds a ffdnet network, not dncnn"):
        train(other, progress=False)


def test_a_noise_map_network_starts_a_blind_one(folders, tmp_path):  # noqa: F811
    """denoise_real's recipe starts from the noise-map colour model: the noise-level input
    channel (the head's last) is dropped, every other weight carried over exactly."""
    import torch

    from restora.models import load_model
    from restora.train.trainer import train

    opts = {"channels": [4, 4, 4, 4], "num_blocks": 1}
    first = train(_config(folders, tmp_path / "a", steps=2,
                          model={"arch": "drunet", "options": opts}), progress=False)
    blind = train(_config(folders, tmp_path / "b", steps=1,
                          model={"arch": "drunet", "init": str(first.model_path),
                                 "options": {**opts, "noise_map": False}},
                          optim={"lr": 1e-12, "min_lr": 0.0, "ema_decay": 0.0}), progress=False)
    a = load_model(first.model_path).model.state_dict()
    b = load_model(blind.model_path)
    assert not b.needs_sigma
    sb = b.model.state_dict()
    torch.testing.assert_close(sb["m_head.weight"], a["m_head.weight"][:, :-1], atol=1e-8, rtol=0)
    for k in a:
        if k != "m_head.weight":
            torch.testing.assert_close(sb[k], a[k], atol=1e-8, rtol=0)
