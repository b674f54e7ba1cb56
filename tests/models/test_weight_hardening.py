"""Weight files that lie about their network are refused before anything is built."""

from __future__ import annotations

import json
import tracemalloc

import pytest

torch = pytest.importorskip("torch")

from safetensors.torch import load_file, save_file

from restora.archs import DnCNN
from restora.errors import ModelLoadError
from restora.models import ModelDescriptor, load_model, save_model


@pytest.fixture
def tiny(tmp_path):
    net = DnCNN(1, 1, num_features=4, depth=3).eval()
    desc = ModelDescriptor.from_module(net, needs_sigma=False)
    desc = ModelDescriptor(**{**desc.__dict__, "arch": "dncnn", "source": tmp_path / "t.pth",
                              "config": {"in_channels": 1, "out_channels": 1, "num_features": 4,
                                         "depth": 3}})
    return save_model(desc, tmp_path / "tiny.safetensors")


def _lie(path, tmp_path, **config):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata())
    meta["restora_config"] = json.dumps({**json.loads(meta["restora_config"]), **config})
    out = tmp_path / "lying.safetensors"
    save_file(load_file(str(path)), str(out), metadata=meta)
    return out


@pytest.mark.parametrize(("config", "message"), [
    ({"num_features": 30000}, "implausible dncnn configuration"),
    ({"num_features": 8}, "describes .* values but the file holds"),
    ({"depth": 10_000_000}, "implausible dncnn configuration"),
    ({"num_features": 60000, "depth": 60000}, "describes|implausible"),
])
def test_a_lying_header_is_refused_without_building_the_network(tiny, tmp_path, config, message):
    lying = _lie(tiny, tmp_path, **config)
    assert lying.stat().st_size < 10_000
    tracemalloc.start()
    try:
        with pytest.raises(ModelLoadError, match=message):
            load_model(lying)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 << 20
    assert load_model(tiny).config["num_features"] == 4  # the honest file loads


def _mat_with(tmp_path, make):
    import h5py

    path = tmp_path / "net.mat"
    with h5py.File(path, "w") as f:
        make(f, tmp_path)
    return path


@pytest.mark.parametrize("case", ["external_storage", "external_link", "soft_link", "virtual", "huge"])
def test_hdf5_weights_that_reach_outside_are_refused(case, tmp_path):
    import h5py

    from restora.errors import ModelLoadError
    from restora.models.matconvnet import read_simplenn_layers

    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"private bytes of another file" * 8)

    def make(f, folder):
        if case == "external_storage":
            f.create_dataset("net/layers", shape=(32,), dtype="u1", external=[(str(secret), 0, 32)])
        elif case == "external_link":
            f["net"] = h5py.ExternalLink(str(folder / "other.h5"), "/net")
        elif case == "soft_link":
            f.create_group("real/layers")
            f["net"] = h5py.SoftLink("/real")
        elif case == "virtual":
            layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
            layout[:] = h5py.VirtualSource(str(folder / "other.h5"), "data", shape=(4,))
            f.create_virtual_dataset("net/layers", layout)
        else:
            f.create_dataset("net/layers", shape=(1 << 28,), dtype="f8", chunks=(1 << 16,),
                             compression="gzip")  # 2 GiB of zeros in a few KB

    path = _mat_with(tmp_path, make)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ModelLoadError, match="not self-contained or too large") as info:
        read_simplenn_layers(path)
    assert str(path) in str(info.value)


def _simplenn(path, layers):
    import numpy as np
    import scipy.io

    cell = np.empty((1, len(layers)), dtype=object)
    for i, layer in enumerate(layers):
        cell[0, i] = layer
    scipy.io.savemat(path, {"net": {"layers": cell}})
    return path


def _cell(*arrays):
    import numpy as np

    out = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        out[i] = a
    return out


def _conv(cin, cout, shape=None):
    import numpy as np

    return {"type": "conv", "weights": _cell(np.zeros(shape or (3, 3, cin, cout), np.float32),
                                              np.zeros((1, cout), np.float32)),
            "pad": 1.0, "stride": 1.0}


@pytest.mark.parametrize(("case", "message"), [
    ("conv_without_weights", "layer 1 is a conv with 0 weight array(s); it needs 2 (filter and bias); the layer has no weights"),
    ("short_bnorm", "layer 2 is a bnorm with 2 weight array(s); it needs 3"),
    ("bnorm_wrong_size", "layer 2 is a bnorm with 4 gains, 3 biases and 8 moments after a conv with 4 filters"),
    ("filter_5d", "layer 1 is a conv whose filter has shape [3, 3, 1, 4, 2]"),
    ("bias_count", "layer 1 is a conv with 4 filters but 7 biases"),
    ("text_weights", "layer 1 of 'net.layers' cannot be read"),
])
def test_malformed_matconvnet_layers_are_one_model_load_error(case, message, tmp_path):
    import numpy as np

    relu = {"type": "relu"}
    ones = np.ones(4, np.float32)
    layers = {
        "conv_without_weights": [{"type": "conv"}, relu, _conv(4, 4), relu, _conv(4, 1)],
        "short_bnorm": [_conv(1, 4), {"type": "bnorm", "weights": _cell(ones, ones)}, relu, _conv(4, 1)],
        "bnorm_wrong_size": [_conv(1, 4), {"type": "bnorm", "weights": _cell(
            ones, ones[:3], np.ones((4, 2), np.float32))}, relu, _conv(4, 1)],
        "filter_5d": [_conv(1, 4, (3, 3, 1, 4, 2)), relu, _conv(4, 1)],
        "bias_count": [{"type": "conv", "weights": _cell(np.zeros((3, 3, 1, 4), np.float32),
                                                         np.zeros((1, 7), np.float32))}, relu, _conv(4, 1)],
        "text_weights": [{"type": "conv", "weights": np.array(["abc", "def"], dtype=object)}, relu,
                         _conv(4, 1)],
    }[case]
    path = _simplenn(tmp_path / f"{case}.mat", layers)
    with pytest.raises(ModelLoadError) as info:
        load_model(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("arch", "drop"), [
    ("drunet", "m_down1.2.weight"), ("drunet", "m_down3.2.weight"), ("drunet", "m_head.weight"),
    ("drunet", "m_down1.1.res.0.weight"),
    ("nafnet", "intro.weight"), ("nafnet", "encoders.0.0.conv1.weight"), ("nafnet", "downs.1.weight"),
])
def test_partial_state_dicts_are_one_model_load_error(arch, drop, tmp_path):
    from restora.archs.registry import get_spec

    spec = get_spec(arch)
    state = spec.build(spec.example).state_dict()
    assert drop in state
    del state[drop]
    path = tmp_path / f"{arch}.pth"
    torch.save(state, path)
    with pytest.raises(ModelLoadError) as info:
        load_model(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_a_state_dict_with_a_tensor_of_the_wrong_rank_is_named(tmp_path):
    from restora.archs.registry import get_spec

    spec = get_spec("drunet")
    state = spec.build(spec.example).state_dict()
    state["m_down1.2.weight"] = torch.zeros(3)  # the detector reads its shape[0]... of a 1-D
    state["m_head.weight"] = torch.zeros(3)  # ... and shape[1] here: IndexError before the fix
    path = tmp_path / "drunet.pth"
    torch.save(state, path)
    with pytest.raises(ModelLoadError, match="look like a drunet network but the state dict is "
                                             "partial or inconsistent"):
        load_model(path)
