"""The architecture table: every entry builds, saves, is recognised, reloads and runs the same.

Sweeps :func:`restora.archs.registry.specs` (timm's way): a new architecture module with a
``SPEC`` is tested here without touching this file.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from restora.archs.registry import arch_names, detect, get_spec, specs  # noqa: E402
from restora.errors import InvalidParameterError  # noqa: E402
from restora.models import ModelDescriptor, load_model, save_model  # noqa: E402
from restora.models.inference import InferenceRunner  # noqa: E402
from restora.models.loading import describe  # noqa: E402

SPECS = specs()


def _built(spec):
    torch.manual_seed(0)
    net = spec.build(spec.example).eval()
    with torch.no_grad():  # random, non-trivial weights
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


def _descriptor(spec, net, path) -> ModelDescriptor:
    return describe(spec, net, dict(spec.example), source=path)


def _run(desc: ModelDescriptor) -> np.ndarray:
    image = np.random.default_rng(1).random((20, 24, desc.in_channels)).astype(np.float32)
    return InferenceRunner(desc, device="cpu")(image, sigma=25 if desc.needs_sigma else None)


def test_the_table_is_every_module_once_in_detection_order():
    assert [s.name for s in SPECS] and sorted(s.name for s in SPECS) == list(arch_names())
    orders = [s.detect_order for s in SPECS]
    assert orders == sorted(orders)
    assert get_spec("drunet").cls.__name__ == "DRUNet"
    with pytest.raises(InvalidParameterError, match="unknown architecture 'unet'; known: compact, dncnn"):
        get_spec("unet")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_build_save_load_gives_the_same_network(spec, tmp_path):
    net = _built(spec)
    original = _descriptor(spec, net, tmp_path / "net.pth")
    saved = save_model(original, tmp_path / f"{spec.name}.safetensors")
    loaded = load_model(saved)
    assert (loaded.arch, loaded.config) == (spec.name, dict(spec.example))
    assert loaded.halo == spec.reach(spec.example)
    assert loaded.size_multiple == spec.contract(net)["size_multiple"]
    np.testing.assert_allclose(_run(loaded), _run(original), atol=1e-6)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.detect is not None], ids=lambda s: s.name)
def test_a_plain_state_dict_is_recognised_by_its_detector(spec, tmp_path):
    net = _built(spec)
    found = detect(net.state_dict())
    assert found is not None and found[0] is spec
    config = found[1]
    assert {k: config[k] for k in spec.example} == dict(spec.example)
    path = tmp_path / "plain.pth"
    torch.save(net.state_dict(), path)
    loaded = load_model(path)  # by content: no restora metadata in a .pth
    assert loaded.arch == spec.name
    np.testing.assert_allclose(_run(loaded), _run(_descriptor(spec, net, path)), atol=1e-6)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.spandrel is not None], ids=lambda s: s.name)
def test_spandrel_knows_the_same_family(spec):
    """Our state-dict layout is the reference code's, which spandrel also reads."""
    spandrel = pytest.importorskip("spandrel")
    loaded = spandrel.ModelLoader().load_from_state_dict(_built(spec).state_dict())
    assert loaded.architecture.id == spec.spandrel
