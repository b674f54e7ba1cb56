"""EDSR, the blind DRUNet variant, and the luma mode for gray networks on colour photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restora.archs.drunet import DRUNet
from restora.archs.edsr import EDSR
from restora.models import ModelDescriptor, load_model, save_model


def _save(model, arch, config, path, *, task, scale=1, needs_sigma=False, channels=3):
    desc = ModelDescriptor(model=model, arch=arch, task=task, scale=scale, in_channels=channels,
                           out_channels=channels, needs_sigma=needs_sigma, supported_dtypes=("fp32",),
                           size_multiple=1, tile_hint=None, licence=None, source=path, sha256="",
                           config=config)
    return save_model(desc, path)


def test_edsr_round_trips_with_its_scale(tmp_path):
    torch.manual_seed(0)
    cfg = {"in_channels": 3, "scale": 3, "num_features": 8, "num_blocks": 2}
    net = EDSR(**cfg).eval()
    path = _save(net, "edsr", cfg, tmp_path / "edsr.safetensors", task="upscale", scale=3)
    desc = load_model(path)
    assert (desc.arch, desc.task, desc.scale, desc.in_channels) == ("edsr", "upscale", 3, 3)
    x = torch.rand(1, 3, 7, 9)
    with torch.no_grad():
        np.testing.assert_allclose(desc.run_tensor(x).numpy(), net(x).numpy(), atol=1e-6)
    assert desc.run_tensor(x).shape == (1, 3, 21, 27)


def test_edsr_with_zero_tail_is_a_constant_gray():
    net = EDSR(in_channels=3, scale=2, num_features=4, num_blocks=1)
    torch.nn.init.zeros_(net.tail.weight)
    torch.nn.init.zeros_(net.tail.bias)
    y = net(torch.rand(1, 3, 5, 5))
    assert torch.equal(y, torch.full((1, 3, 10, 10), 0.5))


def test_edsr_refuses_unsupported_scales():
    with pytest.raises(ValueError, match="scale must be 1, 2, 3, 4 or 8"):
        EDSR(scale=5)


def test_blind_drunet_round_trips_without_sigma(tmp_path):
    torch.manual_seed(0)
    cfg = {"in_channels": 1, "channels": [4, 8, 8, 8], "num_blocks": 1, "noise_map": False}
    net = DRUNet(**{**cfg, "channels": tuple(cfg["channels"])}).eval()
    path = _save(net, "drunet", cfg, tmp_path / "blind.safetensors", task="deblock", channels=1)
    desc = load_model(path)
    assert not desc.needs_sigma and desc.task == "deblock"
    img = np.random.default_rng(0).uniform(size=(11, 13)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(img)[None, None])[0, 0].clamp(0, 1).numpy()
    np.testing.assert_allclose(desc(img), ref, atol=1e-6)
    with pytest.raises(ValueError, match="takes a noise level"):
        DRUNet(1, channels=(4, 4, 4, 4), num_blocks=1)(torch.rand(1, 1, 8, 8))


class _Constant(torch.nn.Module):
    def forward(self, x):
        return torch.full_like(x, 0.45)


def test_luma_mode_replaces_only_the_jfif_luma(tmp_path):
    from restora.color import rgb_to_ycbcr_jfif
    from restora.methods.learned import method_from_model
    from restora.methods.registry import run_method

    desc = ModelDescriptor(model=_Constant(), arch="dncnn", task="deblock", scale=1, in_channels=1,
                           out_channels=1, needs_sigma=False, supported_dtypes=("fp32",),
                           size_multiple=1, tile_hint=512, licence=None, source=tmp_path / "c.pth",
                           sha256="")
    info = method_from_model(desc, luma=True)
    assert info.channels == (1, 3)
    rgb = np.random.default_rng(0).uniform(0.4, 0.6, (6, 5, 3)).astype(np.float32)
    out = run_method(info, rgb)
    before, after = rgb_to_ycbcr_jfif(rgb), rgb_to_ycbcr_jfif(out)
    np.testing.assert_allclose(after[..., 0], 0.45, atol=1e-6)
    np.testing.assert_allclose(after[..., 1:], before[..., 1:], atol=1e-6)
    # gray images go straight through the network
    np.testing.assert_allclose(run_method(info, rgb[..., :1]), 0.45)
    # without luma mode a gray network takes a colour image channel by channel
    np.testing.assert_allclose(run_method(method_from_model(desc), rgb), 0.45)


def test_jfif_ycbcr_round_trip_and_reference_values():
    from restora.color import rgb_to_ycbcr_jfif, ycbcr_jfif_to_rgb

    white, red = rgb_to_ycbcr_jfif(np.array([1.0, 1.0, 1.0])), rgb_to_ycbcr_jfif(np.array([1.0, 0, 0]))
    np.testing.assert_allclose(white, [1.0, 0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(red * 255, [76.245, 84.472, 255.0], atol=0.01)
    rgb = np.random.default_rng(1).uniform(size=(4, 4, 3))
    np.testing.assert_allclose(ycbcr_jfif_to_rgb(rgb_to_ycbcr_jfif(rgb)), rgb, atol=1e-12)


def test_safetensors_whose_header_length_looks_like_a_pickle_opcode(tmp_path):
    """A 0x480-byte header starts with b"\\x80\\x04", the opcode of pickle protocol 4."""
    from safetensors.torch import save

    from restora.models.loading import sniff_format

    tensors = {"w": torch.zeros(2)}
    for pad in range(0, 1200):
        data = save(tensors, metadata={"pad": "x" * pad})
        if data[:2] == b"\x80\x04":
            break
    else:
        pytest.fail("no padding gave a 0x..80 04 header length")
    path = tmp_path / "m.safetensors"
    path.write_bytes(data)
    assert sniff_format(path) == "safetensors"


def test_colour_network_takes_gray_images_as_equal_channels(tmp_path):
    from restora.methods.learned import method_from_model
    from restora.methods.registry import run_method

    torch.manual_seed(0)
    cfg = {"in_channels": 3, "scale": 2, "num_features": 4, "num_blocks": 1}
    net = EDSR(**cfg).eval()
    path = _save(net, "edsr", cfg, tmp_path / "e.safetensors", task="upscale", scale=2)
    info = method_from_model(load_model(path))
    assert info.channels == (1, 3)
    gray = np.random.default_rng(0).uniform(size=(6, 7, 1)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(np.repeat(gray, 3, axis=2).transpose(2, 0, 1))[None])
    expected = ref[0].clamp(0, 1).mean(0).numpy()
    np.testing.assert_allclose(run_method(info, gray, scale=2)[..., 0], expected, atol=1e-6)
