"""Every architecture that lists CPU graph engines computes, through them, what torch computes,
on an image of odd height and width: the exported graph is traced at one padded size, so a
size branch inside forward() (FFDNet's odd-size padding) must be the runner's padding."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import restora
from restora.archs.registry import arch_names, get_spec
from restora.models import save_network
from restora.models.onnxrt import engine_available

WITH_ENGINES = [(name, engine) for name in arch_names() for engine in get_spec(name).cpu_engines]


@pytest.mark.parametrize(("arch", "engine"), WITH_ENGINES, ids=[f"{a}-{e}" for a, e in WITH_ENGINES])
def test_engine_equals_torch_on_odd_sizes(tmp_path, arch, engine):
    import torch

    if not engine_available(engine):
        pytest.skip(f"{engine} is not installed")
    spec = get_spec(arch)
    torch.manual_seed(0)
    net = spec.build(spec.example).eval()
    path = save_network(net, arch, spec.example, tmp_path / f"{arch}.safetensors")
    channels = int(spec.example.get("in_channels", 3 if spec.rgb_default else 1))
    image = np.random.default_rng(1).random((37, 53, channels), dtype=np.float32)
    options = {"model": str(path), "precision": "fp32", "tile": 0}
    if spec.needs_sigma:
        options["sigma"] = 20
    expected = restora.restore(image, backend="torch", **options)
    got = restora.restore(image, backend=engine, **options)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-4)
