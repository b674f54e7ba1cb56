"""Exported ONNX graphs are kept in restora's cache folder for the next process."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from restora.archs import DnCNN
from restora.models import load_model, onnxrt
from restora.models.inference import InferenceRunner


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty cache folder and no graphs in memory (a new process)."""
    monkeypatch.setenv("RESTORA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(onnxrt, "_GRAPHS", type(onnxrt._GRAPHS)())
    return tmp_path


def _weights(folder, seed):
    torch.manual_seed(seed)
    path = folder / f"dncnn_{seed}.pth"
    torch.save(DnCNN(3, 3, 16, 4).state_dict(), path)
    return load_model(path)


def _run(model, image):
    return InferenceRunner(model, device="cpu", precision="fp32", backend="onnxruntime")(image)


def test_the_next_process_reads_the_graph_instead_of_exporting(fresh, monkeypatch):
    model = _weights(fresh, 0)
    image = np.random.default_rng(0).random((32, 40, 3), dtype=np.float32)
    first = _run(model, image)
    path = onnxrt.graph_cache_file(model)
    assert path.is_file() and path.parent == fresh / "cache" / "onnx"
    assert path.read_bytes() == onnxrt.onnx_graph(model)  # the graph an export gives

    def no_export(model):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnxrt, "_GRAPHS", type(onnxrt._GRAPHS)())  # a new process
    monkeypatch.setattr(onnxrt, "onnx_graph", no_export)
    np.testing.assert_array_equal(_run(model, image), first)
    np.testing.assert_allclose(first, InferenceRunner(model, device="cpu", precision="fp32",
                                                      backend="torch")(image), atol=1e-5)


def test_other_weights_other_graph(fresh):
    a, b = _weights(fresh, 0), _weights(fresh, 1)
    assert onnxrt.graph_cache_file(a) != onnxrt.graph_cache_file(b)
    copy = fresh / "copy"
    copy.mkdir()
    assert onnxrt.graph_cache_file(a) == onnxrt.graph_cache_file(_weights(copy, 0))  # same bytes


def test_an_unwritable_cache_costs_only_the_export(fresh, monkeypatch):
    blocker = fresh / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("RESTORA_CACHE", str(blocker))
    model = _weights(fresh, 2)
    image = np.random.default_rng(1).random((24, 24, 3), dtype=np.float32)
    out = _run(model, image)
    assert out.shape == image.shape and not (blocker / "onnx").exists()
