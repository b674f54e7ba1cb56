"""A process whose networks run on a graph engine never imports torch once the graph is in
restora's cache: the loader defers building the torch network, and the runner feeds the
engine numpy arrays (2.5-5 s and 0.6 GB less for a CLI call, docs/benchmarks.md)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("openvino")

from restora.errors import ModelLoadError
from restora.models import inference, load_model, onnxrt
from restora.models.descriptor import DeferredModelDescriptor
from restora.models.inference import InferenceRunner, gpu_possible, resolve_device
from restora.weights import WEIGHTS_DIR

SHIPPED = WEIGHTS_DIR / "denoise_color.safetensors"

#: Restores every file named on the command line with the automatic backend and prints
#: whether torch was imported (``TORCH`` first: the run that fills the cache).
SCRIPT = textwrap.dedent("""
    import sys
    if sys.argv[1] == "torch":
        import torch
    import restora
    for spec in sys.argv[2:]:
        src, dst, task = spec.split(",")
        extra = {"task": "denoise", "sigma": 15} if task == "denoise" else {}
        restora.restore_file(src, dst, **extra)
    print("torch imported:", "torch" in sys.modules)
""")


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder (inherited by subprocesses) and no graphs in memory."""
    monkeypatch.setenv("RESTORA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(onnxrt, "_GRAPHS", type(onnxrt._GRAPHS)())
    return tmp_path / "cache"


def _photos(folder):
    """Gray, colour, RGBA and 16-bit PNGs and a JPEG (a smooth scene with noise)."""
    from PIL import Image

    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:72, 0:96] / 96.0
    scene = np.stack([0.3 + 0.4 * x, 0.5 + 0.2 * np.sin(6 * y), 0.6 - 0.3 * x * y], -1)
    noisy = np.clip(scene + rng.normal(0, 12 / 255, scene.shape), 0, 1)
    u8 = np.rint(noisy * 255).astype(np.uint8)
    files = {"gray.png": Image.fromarray(u8[..., 1]), "colour.png": Image.fromarray(u8),
             "rgba.png": Image.fromarray(np.dstack([u8, np.full(u8.shape[:2], 200, np.uint8)])),
             "photo.jpg": Image.fromarray(u8)}
    for name, image in files.items():
        image.save(folder / name, quality=92)
    sixteen = np.rint(noisy[..., 0] * 65535).astype(np.uint16)
    Image.fromarray(sixteen).save(folder / "deep.png")
    return ["gray.png", "colour.png", "rgba.png", "deep.png", "photo.jpg"]


def _run(args, cwd):
    done = subprocess.run([sys.executable, "-c", SCRIPT, *args], cwd=cwd, check=False,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(gpu_possible(), reason="device=auto asks torch where a GPU may exist")
def test_the_second_process_runs_without_torch_and_writes_the_same_bytes(fresh_cache, tmp_path):
    """Every image kind through the file API, denoised and in the automatic mode: the first
    process (torch imported) fills the cache; the second never imports torch and writes the
    same files, byte for byte."""
    names = _photos(tmp_path)
    jobs = [(name, task) for name in names for task in ("denoise", "auto")]
    specs = lambda tag: [f"{tmp_path / n},{tmp_path / f'{tag}-{task}-{n}'},{task}" for n, task in jobs]
    assert "torch imported: True" in _run(["torch", *specs("first")], tmp_path)
    assert any(fresh_cache.joinpath("onnx").glob("*.json"))
    assert "torch imported: False" in _run(["plain", *specs("second")], tmp_path)
    for name, task in jobs:
        first = (tmp_path / f"first-{task}-{name}").read_bytes()
        assert (tmp_path / f"second-{task}-{name}").read_bytes() == first, (name, task)


def test_a_cached_contract_defers_the_network(fresh_cache):
    full = load_model(SHIPPED)
    assert not isinstance(full, DeferredModelDescriptor)  # nothing exported yet
    tile = np.random.default_rng(0).random((1, 40, 48, 3), dtype=np.float32)
    engine = InferenceRunner(full, device="cpu", precision="fp32", backend="openvino")
    expected = engine.run_batch(tile, sigma=20)  # exports: graph and contract kept

    deferred = load_model(SHIPPED)
    assert isinstance(deferred, DeferredModelDescriptor) and not deferred.built
    for field in onnxrt.CONTRACT_FIELDS:
        assert getattr(deferred, field) == getattr(full, field), field
    assert (deferred.arch, deferred.sha256, deferred.licence) == (full.arch, full.sha256, full.licence)
    runner = InferenceRunner(deferred, device="cpu", precision="fp32", backend="openvino")
    np.testing.assert_array_equal(runner.run_batch(tile, sigma=20), expected)
    assert not deferred.built  # the engine needed no torch network
    # asked for, the network is the full load's, weights and all
    state = deferred.model.state_dict()
    assert deferred.built and all(torch.equal(state[k], v) for k, v in full.model.state_dict().items())
    torch_out = InferenceRunner(deferred, device="cpu", precision="fp32")(tile, sigma=20)
    np.testing.assert_allclose(torch_out, expected, atol=1e-4)
    # it pickles (to another process) with its network
    again = pickle.loads(pickle.dumps(load_model(SHIPPED)))
    assert again.built and again.sha256 == full.sha256
    assert all(torch.equal(again.model.state_dict()[k], v) for k, v in state.items())


def test_a_weight_file_changed_after_loading_is_refused(fresh_cache, tmp_path):
    copy = tmp_path / "w.safetensors"
    copy.write_bytes(SHIPPED.read_bytes())
    InferenceRunner(load_model(copy), device="cpu", precision="fp32", backend="openvino") \
        .run_batch(np.zeros((1, 16, 16, 3), np.float32), sigma=5)
    deferred = load_model(copy)
    assert isinstance(deferred, DeferredModelDescriptor)
    data = bytearray(copy.read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="changed after it was loaded"):
        deferred.model  # noqa: B018


@pytest.mark.parametrize("edit", [
    lambda c: c.pop("halo"),                          # a field missing
    lambda c: c.update(tile_hint=10**9),              # a tile no export writes
    lambda c: c.update(needs_sigma="yes"),            # a wrong type
    lambda c: c.update(scale=True),                   # a bool for an int
])
def test_a_bad_contract_means_the_full_load(fresh_cache, edit):
    model = load_model(SHIPPED)
    InferenceRunner(model, device="cpu", precision="fp32", backend="openvino") \
        .run_batch(np.zeros((1, 16, 16, 3), np.float32), sigma=5)
    sidecar = onnxrt.graph_cache_file(model).with_suffix(".json")
    contract = json.loads(sidecar.read_text())
    edit(contract)
    sidecar.write_text(json.dumps(contract))
    assert onnxrt.cached_contract(model.sha256, model.arch) is None
    assert not isinstance(load_model(SHIPPED), DeferredModelDescriptor)
    sidecar.write_text("{not json")
    assert not isinstance(load_model(SHIPPED), DeferredModelDescriptor)


def test_auto_device_without_gpu_nodes_is_the_cpu(monkeypatch):
    monkeypatch.setattr(inference.sys, "platform", "linux")
    monkeypatch.setattr(inference, "GPU_DEVICE_NODES", ("/nonexistent/nvidiactl",))
    assert not gpu_possible()
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(inference.sys, "platform", "darwin")  # MPS: ask torch
    assert gpu_possible()
    assert resolve_device("auto") in ("cpu", "mps")
