"""Weight files that lie about their network are refused before anything is built."""

from __future__ import annotations

import json
import tracemalloc

import pytest

torch = pytest.importorskip("torch")

from safetensors.torch import load_file, save_file  # noqa: E402

from restora.archs import DnCNN  # noqa: E402
from restora.errors import ModelLoadError  # noqa: E402
from restora.models import ModelDescriptor, load_model, save_model  # noqa: E402


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
