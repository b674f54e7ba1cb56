"""DRUNet's ``unshuffle`` variant: the same U-Net on pixel-unshuffled input, saved and
loaded as a restora file, exported to ONNX, refused for spandrel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from restora.archs.drunet import DRUNet
from restora.archs.registry import get_spec
from restora.errors import InvalidParameterError, ModelLoadError
from restora.models import load_model, save_network

CONFIG = {"in_channels": 3, "channels": [8, 8, 16, 16], "num_blocks": 1, "unshuffle": 2}


def _saved(tmp_path):
    torch.manual_seed(0)
    net = get_spec("drunet").build(CONFIG).eval()
    return net, save_network(net, "drunet", CONFIG, tmp_path / "unshuffled.safetensors")


def test_it_is_the_inner_unet_between_unshuffle_and_shuffle():
    torch.manual_seed(0)
    net = DRUNet(3, channels=(8, 8, 16, 16), num_blocks=1, unshuffle=2).eval()
    inner = DRUNet(12, channels=(8, 8, 16, 16), num_blocks=1).eval()
    inner.load_state_dict(net.state_dict())  # same tensors: 12 + 1 channels in, 12 out
    x = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        want = F.pixel_shuffle(inner(F.pixel_unshuffle(x, 2), 0.1), 2)
        assert torch.equal(net(x, 0.1), want)
        # any size: padded to a multiple of 16 by edge replication, cropped back
        odd = torch.rand(1, 3, 37, 50)
        padded = F.pad(odd, (0, 14, 0, 11), mode="replicate")
        assert torch.allclose(net(odd, 0.1), net(padded, 0.1)[..., :37, :50], atol=1e-6)
    assert net.size_multiple == 16 and get_spec("drunet").contract(net)["size_multiple"] == 16
    assert get_spec("drunet").reach(CONFIG) == 32  # twice the plain one-block DRUNet's 16


def test_saved_file_loads_as_the_same_network(tmp_path):
    net, path = _saved(tmp_path)
    loaded = load_model(path)
    assert loaded.config["unshuffle"] == 2 and loaded.size_multiple == 16 and loaded.halo == 32  # 16 x 2
    image = np.random.default_rng(0).random((40, 56, 3)).astype(np.float32)
    x = torch.from_numpy(image.transpose(2, 0, 1))[None]
    with torch.no_grad():
        want = net(x, 25 / 255)[0].numpy().transpose(1, 2, 0)
    assert np.abs(loaded(image, sigma=25) - np.clip(want, 0, 1)).max() < 1e-5


def test_onnx_export_matches_and_spandrel_is_refused(tmp_path):
    pytest.importorskip("onnxruntime")
    from restora.models.export import export_model

    _, path = _saved(tmp_path)
    model = load_model(path)
    assert export_model(model, tmp_path / "net.onnx", "onnx") < 1e-4
    with pytest.raises(ModelLoadError, match="no spandrel equivalent"):
        export_model(model, tmp_path / "spandrel.safetensors", "safetensors")
    assert not (tmp_path / "spandrel.safetensors").exists()


@pytest.mark.parametrize("bad", [0, 5, 1.5, True])
def test_bad_unshuffle_is_refused(bad):
    with pytest.raises(InvalidParameterError, match="unshuffle"):
        get_spec("drunet").build({**CONFIG, "unshuffle": bad})


def test_save_network_refuses_an_unknown_architecture_and_writes_nothing(tmp_path):
    net = get_spec("drunet").build(CONFIG).eval()
    target = tmp_path / "net.safetensors"
    with pytest.raises(InvalidParameterError, match="unknown architecture 'unet'; known: compact"):
        save_network(net, "unet", CONFIG, target)
    assert list(tmp_path.iterdir()) == []
