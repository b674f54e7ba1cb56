"""On-the-fly degradations: each pipeline has the documented statistics; batches are seeded."""

from __future__ import annotations

import numpy as np
import pytest

from restora.train.config import DataConfig, DegradationConfig
from restora.train.data import (
    PatchSampler,
    augment,
    camera,
    degrade,
    second_order,
    sr_pair,
    to_channels,
)


def _smooth(h=64, w=64, c=1, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    planes = [0.5 + 0.3 * np.sin(2 * np.pi * (rng.uniform(0.5, 2) * xx + rng.uniform(0.5, 2) * yy)) for _ in range(c)]
    return np.stack(planes, axis=-1).astype(np.float32)


def test_gaussian_noise_std_and_returned_sigma():
    clean = np.full((256, 256, 1), 0.5, np.float32)
    cfg = DegradationConfig(kind="gaussian", sigma_min=25.0, sigma_max=25.0)
    noisy, sigma = degrade(clean, cfg, np.random.default_rng(0))
    assert sigma == 25.0
    assert noisy.shape == clean.shape and noisy.dtype == np.float32
    std = float(np.std(noisy - clean) * 255)
    assert abs(std - 25.0) < 0.25  # 65536 samples: std error ~ 25 / sqrt(2 * 65536) = 0.07
    assert abs(float(np.mean(noisy - clean)) * 255) < 0.3


def test_gaussian_sigma_range_is_uniform_and_noise_follows_it():
    clean = np.full((64, 64, 1), 0.5, np.float32)
    cfg = DegradationConfig(kind="gaussian", sigma_min=10.0, sigma_max=30.0)
    rng = np.random.default_rng(1)
    pairs = [degrade(clean, cfg, rng) for _ in range(300)]
    sigmas = np.array([s for _, s in pairs])
    assert sigmas.min() >= 10.0 and sigmas.max() <= 30.0
    assert abs(sigmas.mean() - 20.0) < 1.0 and sigmas.std() == pytest.approx(20 / np.sqrt(12), rel=0.1)
    measured = np.array([np.std(n - clean) * 255 for n, _ in pairs])
    np.testing.assert_allclose(measured, sigmas, rtol=0.06)


def test_noise_map_the_network_receives_is_sigma_over_255():
    import torch

    from restora.archs import FFDNet
    from restora.train.trainer import _forward

    seen = {}

    class Spy(FFDNet):
        def forward(self, x, sigma):
            seen["sigma"] = sigma
            return super().forward(x, sigma)

    net = Spy(in_channels=1, num_features=8, depth=2)
    cfg = DataConfig(train=["unused"], patch_size=16, batch_size=4)
    sampler = PatchSampler.__new__(PatchSampler)  # skip the folder: in-memory images
    sampler.images = [np.full((32, 32, 1), 128, np.uint8)]
    sampler.data, sampler.seed, sampler.lr_output = cfg, 0, False
    sampler.degradation = DegradationConfig(kind="gaussian", sigma_min=5.0, sigma_max=45.0)
    batch = sampler.batch(0)
    _forward(net, torch.from_numpy(batch.inputs), torch.from_numpy(batch.sigmas), "ffdnet")
    np.testing.assert_allclose(seen["sigma"].numpy(), batch.sigmas / 255.0, rtol=1e-6)
    per_sample = np.std(batch.inputs - batch.targets, axis=(1, 2, 3)) * 255
    np.testing.assert_allclose(per_sample, batch.sigmas, rtol=0.35)  # 256 px per patch


def test_camera_noise_matches_the_delta_method_prediction():
    from restora.color import srgb_to_linear

    x = 0.5
    clean = np.full((256, 256, 3), x, np.float32)
    photons, read = 1000.0, 2.0
    out = camera(clean, photons=photons, read_sigma=read, quality=None, rng=np.random.default_rng(0))
    lin = float(srgb_to_linear(np.array(x)))
    slope = 1.055 / 2.4 * lin ** (1 / 2.4 - 1)  # d sRGB / d linear
    predicted = slope * np.sqrt(lin / photons + (read / 255) ** 2)
    assert float(np.std(out)) == pytest.approx(predicted, rel=0.05)
    assert float(np.mean(out)) == pytest.approx(x, abs=0.003)
    many = camera(clean, photons=1e7, read_sigma=0.0, quality=None, rng=np.random.default_rng(0))
    assert float(np.abs(many - clean).max()) < 2e-3  # many photons: no noise


def test_camera_pipeline_ends_with_jpeg_in_the_quality_range():
    from restora.degrade import jpeg_compress

    clean = _smooth(32, 32, 3)
    cfg = DegradationConfig(kind="camera", photons_min=1e9, photons_max=1e9, read_sigma_min=0, read_sigma_max=0,
                            quality_min=20, quality_max=20)
    out, _ = degrade(clean, cfg, np.random.default_rng(0))
    np.testing.assert_allclose(out, jpeg_compress(clean, 20), atol=1.5 / 255)


def test_jpeg_quality_is_drawn_from_the_range():
    from restora.degrade import jpeg_compress

    clean = _smooth(48, 48, 3)
    table = {q: jpeg_compress(clean, q) for q in range(1, 101)}
    cfg = DegradationConfig(kind="jpeg", quality_min=40, quality_max=44)
    rng = np.random.default_rng(5)
    used = set()
    for _ in range(40):
        out, _ = degrade(clean, cfg, rng)
        matches = [q for q, ref in table.items() if np.array_equal(out, ref)]
        assert matches and all(40 <= q <= 44 for q in matches)
        used.update(matches)
    assert {40, 44} <= used  # both ends are reachable (inclusive range)


def test_sr_pair_sizes_and_matlab_bicubic():
    from restora.degrade import imresize

    clean = _smooth(48, 36, 3)
    lr, up = sr_pair(clean, 3)
    assert lr.shape == (16, 12, 3) and up.shape == clean.shape
    np.testing.assert_array_equal(lr, imresize(clean, 1 / 3).astype(np.float32))
    out, sigma = degrade(clean, DegradationConfig(kind="sr", scale=3), np.random.default_rng(0))
    np.testing.assert_array_equal(out, up)
    assert 0 < sigma < 255


def test_second_order_is_seeded_in_range_and_degrades():
    from restora.metrics import psnr

    clean = _smooth(40, 40, 3)
    cfg = DegradationConfig(kind="second_order", sigma_min=1, sigma_max=10, quality_min=50, quality_max=90, scale=4)
    a = second_order(clean, cfg, np.random.default_rng(7))
    b = second_order(clean, cfg, np.random.default_rng(7))
    c = second_order(clean, cfg, np.random.default_rng(8))
    assert a.shape == clean.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() <= 1
    assert 15 < psnr(clean, a) < 40


def test_augment_gives_the_eight_dihedral_transforms():
    p = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
    outs = [augment(p, k) for k in range(8)]
    assert len({o.tobytes() + bytes(o.shape) for o in outs}) == 8
    np.testing.assert_array_equal(outs[0], p)
    np.testing.assert_array_equal(outs[1], np.rot90(p))
    np.testing.assert_array_equal(outs[4], p[:, ::-1])


def test_to_channels():
    rgb = np.zeros((2, 2, 3), np.float32)
    rgb[..., 0] = 1.0
    np.testing.assert_allclose(to_channels(rgb, 1)[..., 0], 0.2989, rtol=1e-6)
    gray = np.full((2, 2, 1), 0.25, np.float32)
    np.testing.assert_array_equal(to_channels(gray, 3), np.full((2, 2, 3), 0.25, np.float32))


def test_patch_sampler_reads_folders_and_is_seeded_per_step(tmp_path):
    from restora.io import write_image

    for i in range(3):
        write_image((_smooth(40, 50, 3, seed=i) * 255).round().astype(np.uint8), tmp_path / f"im{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    data = DataConfig(train=[str(tmp_path)], channels=1, patch_size=24, batch_size=5)
    deg = DegradationConfig(kind="gaussian", sigma_min=0, sigma_max=50)
    s1 = PatchSampler(data, deg, seed=3)
    s2 = PatchSampler(data, deg, seed=3)
    assert len(s1.images) == 3 and s1.images[0].shape == (40, 50, 1)
    b1, b2, b3 = s1.batch(4), s2.batch(4), s1.batch(5)
    assert b1.inputs.shape == (5, 1, 24, 24) and b1.targets.shape == (5, 1, 24, 24)
    np.testing.assert_array_equal(b1.inputs, b2.inputs)
    np.testing.assert_array_equal(b1.sigmas, b2.sigmas)
    assert not np.array_equal(b1.targets, b3.targets)
    assert b1.targets.min() >= 0 and b1.targets.max() <= 1
    # targets are 8-bit crops of the images
    np.testing.assert_allclose(b1.targets * 255, np.round(b1.targets * 255), atol=1e-4)


def test_too_small_images_and_missing_folders(tmp_path):
    from restora.errors import DatasetError
    from restora.io import write_image

    with pytest.raises(DatasetError, match="training/validation folder not found"):
        PatchSampler(DataConfig(train=[str(tmp_path / "nope")]), DegradationConfig(), seed=0)
    write_image(np.zeros((10, 10), np.uint8), tmp_path / "a.png")
    with pytest.raises(DatasetError, match=r"no training image is at least 48x48 pixels; lower \[data\] patch_size"):
        PatchSampler(DataConfig(train=[str(tmp_path)], patch_size=48), DegradationConfig(), seed=0)


def test_colour_jitter_re_renders_the_clean_patch_before_the_noise():
    img = (np.random.default_rng(0).uniform(0.2, 0.8, (40, 40, 3)) * 255).astype(np.uint8)

    def sampler(share: float) -> PatchSampler:
        s = PatchSampler.__new__(PatchSampler)  # in-memory image, no folder
        s.images = [img]
        s.data = DataConfig(train=["unused"], channels=3, patch_size=16, batch_size=8,
                            augment=False, colour_jitter=share)
        s.degradation = DegradationConfig(kind="gaussian", sigma_min=10, sigma_max=10)
        s.seed, s.lr_output = 3, False
        return s

    plain, jittered = sampler(0.0).batch(0), sampler(1.0).batch(0)
    crops = plain.targets  # the crops themselves (no jitter): exactly the uint8 source / 255
    assert np.all(np.isin(np.rint(crops * 255), np.arange(256)))
    assert np.abs(jittered.targets - crops).mean() > 0.02  # other colours ...
    residual = (jittered.inputs - jittered.targets) * 255  # ... and the same noise on them
    assert abs(residual.std() - 10) < 0.6
