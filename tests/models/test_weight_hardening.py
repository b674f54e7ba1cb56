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
