"""Round trips, detection, errors and BN merging for restora.archs / restora.models (always run, CPU, tiny models)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from restora.archs.dncnn import DnCNN, merge_batch_norm
from restora.archs.drunet import DRUNet
from restora.archs.ffdnet import FFDNet
from restora.archs.nafnet import NAFNet
from restora.errors import InvalidParameterError, ModelLoadError, ShapeError
from restora.models import convert, load_model, save_model, sniff_format


def _randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights (and BN statistics) so that every parameter matters in the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype.is_floating_point:
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                else:
                    t.copy_(torch.randn(t.shape, generator=g) * 0.2)
    return model.eval()


# name -> (factory, channels, needs_sigma)
TINY = {
    "dncnn": (lambda: DnCNN(in_channels=1, out_channels=1, num_features=8, depth=4), 1, False),
    "dncnn_bn": (lambda: DnCNN(in_channels=3, out_channels=3, num_features=8, depth=4, batch_norm=True), 3, False),
    "ffdnet": (lambda: FFDNet(in_channels=1, num_features=8, depth=4), 1, True),
    "ffdnet_color": (lambda: FFDNet(in_channels=3, num_features=8, depth=3), 3, True),
    "drunet": (lambda: DRUNet(in_channels=1, channels=(4, 8, 8, 16), num_blocks=1), 1, True),
    "nafnet": (lambda: NAFNet(in_channels=3, width=4, middle_blocks=1, enc_blocks=(1, 2), dec_blocks=(1, 1)), 3, False),
}
ARCH_OF = {"dncnn_bn": "dncnn", "ffdnet_color": "ffdnet"}


def _image(channels: int, h: int = 21, w: int = 19, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, channels), dtype=np.float32)


def _direct(model: torch.nn.Module, image: np.ndarray, sigma: float | None) -> np.ndarray:
    """Reference: the module called by hand (DRUNet and NAFNet pad internally)."""
    x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        y = model(x, sigma / 255) if sigma is not None else model(x)
    return y[0].clamp(0, 1).permute(1, 2, 0).numpy()


@pytest.mark.parametrize("name", list(TINY))
def test_round_trip_all_containers(name: str, tmp_path: Path) -> None:
    factory, channels, needs_sigma = TINY[name]
    model = _randomise(factory(), seed=len(name))
    image = _image(channels)
    sigma = 30.0 if needs_sigma else None
    expected = _direct(model, image, sigma)
    assert np.std(expected) > 1e-3  # the model does something

    files = {
        "state.pth": lambda p: torch.save(model.state_dict(), p),
        "whole.pth": lambda p: torch.save(model, p),  # pickled module: restricted unpickler
        "ckpt.weird": lambda p: torch.save({"params": model.state_dict(), "iter": 3}, p),
    }
    for fname, write in files.items():
        path = tmp_path / fname
        write(path)
        desc = load_model(path)
        assert desc.arch == ARCH_OF.get(name, name), fname
        assert desc.needs_sigma is needs_sigma
        assert (desc.in_channels, desc.out_channels, desc.scale) == (channels, channels, 1)
        np.testing.assert_allclose(desc(image, sigma=sigma), expected, atol=1e-6, err_msg=fname)

        out = tmp_path / (fname + ".safetensors")
        save_model(desc, out)
        assert sniff_format(out) == "safetensors"
        again = load_model(out)
        assert again.arch == desc.arch and again.config == desc.config
        np.testing.assert_allclose(again(image, sigma=sigma), expected, atol=1e-6, err_msg=fname)


def test_whole_module_pickle_never_imports_the_class_module(tmp_path: Path) -> None:
    """A pickled module whose class lives in a module that runs code on import: not imported."""
    marker = tmp_path / "imported.txt"
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "evil_arch_mod.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),\n"
        "                                         torch.nn.Conv2d(4, 1, 3, padding=1))\n"
    )
    sys.path.insert(0, str(pkg))
    try:
        import evil_arch_mod  # noqa: PLC0415 - executed here once to build the pickle

        net = evil_arch_mod.Net()
        torch.save(net, tmp_path / "net.pth")
    finally:
        sys.path.remove(str(pkg))
        sys.modules.pop("evil_arch_mod", None)
    marker.unlink()
    desc = load_model(tmp_path / "net.pth")  # found as a DnCNN-like stack (model.0, model.2)
    assert not marker.exists()
    assert "evil_arch_mod" not in sys.modules
    assert desc.arch == "dncnn" and desc.config["depth"] == 2


def test_batch_norm_merge_is_exact() -> None:
    model = _randomise(DnCNN(in_channels=1, out_channels=1, num_features=8, depth=5, batch_norm=True), seed=7)
    merged = merge_batch_norm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in merged.modules())
    x = torch.rand(2, 1, 17, 23, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(merged(x), model(x), atol=1e-5, rtol=1e-5)
    # the original keeps its BatchNorms (input not mutated)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 3


def test_ffdnet_odd_size_pads_by_replication() -> None:
    model = _randomise(FFDNet(in_channels=1, num_features=8, depth=3), seed=3)
    x = torch.rand(1, 1, 9, 12, generator=torch.Generator().manual_seed(2))
    padded = torch.cat([x, x[:, :, -1:]], dim=2)  # 10 x 12, last row repeated
    with torch.no_grad():
        y = model(x, 0.1)
        y_pad = model(padded, 0.1)
        # per-image sigma tensor == scalar sigma
        y_batch = model(torch.cat([x, x]), torch.tensor([0.1, 0.3]))
    assert y.shape == x.shape
    torch.testing.assert_close(y, y_pad[:, :, :9])
    torch.testing.assert_close(y_batch[:1], y)
    assert not torch.allclose(y_batch[1:], y)


def test_nafnet_and_drunet_crop_back_to_input_size() -> None:
    naf = _randomise(NAFNet(in_channels=3, width=4, enc_blocks=(1, 1), dec_blocks=(1, 1)), seed=5)
    dru = _randomise(DRUNet(in_channels=3, channels=(4, 4, 8, 8), num_blocks=1), seed=6)
    x = torch.rand(1, 3, 13, 10)
    with torch.no_grad():
        assert naf(x).shape == x.shape
        assert dru(x, 0.1).shape == x.shape


def test_drunet_key_names_match_kair() -> None:
    keys = set(DRUNet(in_channels=3, channels=(4, 8, 8, 16), num_blocks=2).state_dict())
    for k in ("m_head.weight", "m_down1.0.res.0.weight", "m_down1.0.res.2.weight", "m_down1.2.weight",
              "m_body.1.res.2.weight", "m_up3.0.weight", "m_up1.2.res.0.weight", "m_tail.weight"):
        assert k in keys
    assert not any(k.endswith("bias") for k in keys)


def test_nafnet_key_names_match_official() -> None:
    keys = set(NAFNet(in_channels=3, width=4, enc_blocks=(1,), dec_blocks=(1,)).state_dict())
    for k in ("intro.weight", "ending.bias", "encoders.0.0.conv1.weight", "encoders.0.0.sca.1.weight",
              "encoders.0.0.norm1.weight", "encoders.0.0.beta", "downs.0.weight", "ups.0.0.weight",
              "middle_blks.0.gamma", "decoders.0.0.conv5.bias"):
        assert k in keys


def test_sigma_and_shape_errors(tmp_path: Path) -> None:
    torch.save(_randomise(FFDNet(in_channels=1, num_features=4, depth=3), 1).state_dict(), tmp_path / "f.pth")
    torch.save(_randomise(DnCNN(num_features=4, depth=3), 1).state_dict(), tmp_path / "d.pth")
    ffd, dn = load_model(tmp_path / "f.pth"), load_model(tmp_path / "d.pth")
    img = _image(1)
    with pytest.raises(InvalidParameterError, match=r"takes a noise level: pass sigma"):
        ffd(img)
    with pytest.raises(InvalidParameterError, match=r"no noise-level input; sigma=25"):
        dn(img, sigma=25)
    with pytest.raises(ShapeError, match=r"expects an \(H, W, 1\) image or \(H, W\), got \(21, 19, 3\)"):
        dn(_image(3))
    with pytest.raises(InvalidParameterError, match=r"float image in \[0, 1\], got dtype uint8"):
        dn((img * 255).astype(np.uint8))
    before = img.copy()
    out2d = dn(img[:, :, 0])
    np.testing.assert_array_equal(img, before)  # input not mutated  # (H, W) in -> (H, W) out
    assert out2d.shape == (21, 19) and out2d.dtype == np.float32
    np.testing.assert_allclose(out2d, dn(img)[:, :, 0])


def test_unknown_architecture_names_file_and_keys(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "mystery.safetensors"
    save_file({"encoder.foo.weight": torch.zeros(3, 4), "decoder.bar.bias": torch.zeros(2)}, str(path))
    with pytest.raises(ModelLoadError) as info:
        load_model(path)
    msg = str(info.value)
    assert str(path) in msg and "unknown architecture" in msg
    assert "encoder.foo.weight (3, 4)" in msg and "decoder.bar.bias (2,)" in msg


def test_unreadable_files(tmp_path: Path) -> None:
    junk = tmp_path / "model.pth"
    junk.write_bytes(b"this is not a weight file at all")
    with pytest.raises(ModelLoadError, match=r"model\.pth: unknown weight-file format"):
        load_model(junk)
    with pytest.raises(ModelLoadError, match=r"no such weight file"):
        load_model(tmp_path / "absent.safetensors")
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"empty or truncated"):
        load_model(empty)
    no_tensors = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "lr": 0.1}, no_tensors)
    with pytest.raises(ModelLoadError, match=r"meta\.pth: no tensors found.*'epoch', 'lr'"):
        load_model(no_tensors)


def test_spandrel_fallback(tmp_path: Path) -> None:
    from spandrel.architectures.Compact import Compact

    net = _randomise(Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2), seed=9)
    torch.save(net.state_dict(), tmp_path / "compact.pth")
    desc = load_model(tmp_path / "compact.pth")
    assert desc.arch == "spandrel:RealESRGAN Compact"
    assert (desc.scale, desc.task, desc.in_channels, desc.needs_sigma) == (2, "upscale", 3, False)
    image = _image(3, 10, 7)
    out = desc(image)
    assert out.shape == (20, 14, 3)
    np.testing.assert_allclose(out, _direct(net, image, None), atol=1e-6)
    converted = convert(tmp_path / "compact.pth", tmp_path / "compact.safetensors")
    assert converted.arch == desc.arch
    np.testing.assert_allclose(converted(image), out, atol=1e-6)


def test_matconvnet_v5_dncnn_and_subp_order(tmp_path: Path) -> None:
    """A tiny DnCNN saved as a MATLAB v5 simplenn struct converts to the same function."""
    import scipy.io
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    w1 = rng.normal(0, 0.3, (3, 3, 1, 4)).astype(np.float32)  # MATLAB [kh, kw, in, out]
    b1 = rng.normal(0, 0.1, (1, 4)).astype(np.float32)
    w2 = rng.normal(0, 0.3, (3, 3, 4, 1)).astype(np.float32)
    b2 = rng.normal(0, 0.1, (1, 1)).astype(np.float32)

    def conv(w: np.ndarray, b: np.ndarray) -> dict:
        cell = np.empty((1, 2), dtype=object)
        cell[0, 0], cell[0, 1] = w, b
        return {"type": "conv", "weights": cell, "pad": 1.0, "stride": 1.0}

    layers = np.empty((1, 3), dtype=object)
    layers[0, 0], layers[0, 1], layers[0, 2] = conv(w1, b1), {"type": "relu"}, conv(w2, b2)
    scipy.io.savemat(tmp_path / "tiny.mat", {"net": {"layers": layers}})
    desc = load_model(tmp_path / "tiny.mat")
    assert desc.arch == "dncnn" and desc.config["depth"] == 2

    # reference: MatConvNet correlation written out with explicit (row, col) indexing
    x = rng.random((6, 5)).astype(np.float32)
    xp = np.pad(x, 1)
    hidden = np.zeros((6, 5, 4))
    for o in range(4):
        for i in range(6):
            for j in range(5):
                hidden[i, j, o] = np.sum(xp[i : i + 3, j : j + 3] * w1[:, :, 0, o]) + b1[0, o]
    hidden = np.maximum(hidden, 0)
    hp = np.pad(hidden, ((1, 1), (1, 1), (0, 0)))
    res = np.zeros((6, 5))
    for i in range(6):
        for j in range(5):
            res[i, j] = np.sum(hp[i : i + 3, j : j + 3, :] * w2[:, :, :, 0]) + b2[0, 0]
    x_t = torch.from_numpy(x)[None, None]
    with torch.no_grad():
        got = desc.model(x_t)[0, 0].numpy()
    np.testing.assert_allclose(got, x - res, atol=1e-5)

    # SubP: vl_nnSubP down-sampling (0-based) vs torch pixel_unshuffle + our permutation
    from restora.models.matconvnet import _subp_permutation

    img = rng.random((4, 6, 3))
    matlab = np.zeros((2, 3, 12))
    for c in range(3):
        for k in range(4):
            a, b = k % 2, k // 2
            matlab[:, :, c * 4 + k] = img[a::2, b::2, c]
    torch_order = F.pixel_unshuffle(torch.from_numpy(img.transpose(2, 0, 1))[None], 2)[0].numpy()
    perm = _subp_permutation(3)
    np.testing.assert_array_equal(torch_order, matlab.transpose(2, 0, 1)[perm])


def test_whole_module_pickle_carries_batch_norm_eps(tmp_path: Path) -> None:
    """The BN epsilon is read from the pickled module state and kept through safetensors."""
    model = _randomise(DnCNN(num_features=4, depth=4, batch_norm=True, bn_eps=0.05), seed=11)
    image = _image(1)
    expected = _direct(model, image, None)
    torch.save(model, tmp_path / "whole.pth")
    desc = load_model(tmp_path / "whole.pth")
    assert desc.config["bn_eps"] == 0.05
    np.testing.assert_allclose(desc(image), expected, atol=1e-6)
    again = convert(tmp_path / "whole.pth", tmp_path / "whole.safetensors")
    np.testing.assert_allclose(again(image), expected, atol=1e-6)
    # a bare state dict has no eps: the default (1e-4) is used, and the output differs
    torch.save(model.state_dict(), tmp_path / "state.pth")
    assert np.abs(load_model(tmp_path / "state.pth")(image) - expected).max() > 1e-4


def test_authors_pytorch_layout_and_dataparallel_prefix(tmp_path: Path) -> None:
    """cszn/DnCNN's PyTorch keys (``dncnn.N``, bias-free middle/last convs) and a
    ``module.`` prefix inside a ``state_dict`` checkpoint are recognised."""
    model = _randomise(DnCNN(num_features=4, depth=4, batch_norm=True), seed=12)
    state = model.state_dict()
    for key in ("model.2.bias", "model.5.bias", "model.8.bias"):  # middle + last convs
        state[key].zero_()
    model.load_state_dict(state)
    authors = {"module.dncnn." + k[len("model.") :]: v for k, v in state.items() if k not in ("model.2.bias", "model.5.bias", "model.8.bias")}
    torch.save({"epoch": 50, "state_dict": authors}, tmp_path / "authors.pth")
    desc = load_model(tmp_path / "authors.pth")
    assert desc.arch == "dncnn" and desc.config["batch_norm"] is True and desc.config["depth"] == 4
    image = _image(1)
    np.testing.assert_allclose(desc(image), _direct(model, image, None), atol=1e-6)
