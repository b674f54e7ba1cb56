"""Our shipped weights for other tools: safetensors that spandrel loads (chaiNNer, ComfyUI)
and ONNX that onnxruntime runs, each compared with restora's own output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restora.cli import main as cli
from restora.errors import ModelLoadError
from restora.methods.denoisers import load_network
from restora.models.export import export_model


def _image(channels: int, h: int = 48, w: int = 72) -> torch.Tensor:
    return torch.rand(1, channels, h, w, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", ["denoise_color", "denoise_gray", "deblock_gray"])
def test_spandrel_loads_our_export_and_agrees(name, tmp_path):
    import spandrel

    ours = load_network(name)
    target = tmp_path / f"{name}.safetensors"
    assert cli(["export", name, "-o", str(target)]) == 0
    theirs = spandrel.ModelLoader().load_from_file(str(target))
    assert theirs.architecture.id == "DRUNet"
    x = _image(ours.in_channels)
    with torch.inference_mode():
        expected = ours.run_tensor(x, sigma=15.0 if ours.needs_sigma else None).clamp(0, 1)
        got = theirs(x)  # spandrel runs DRUNet at sigma 15
    assert float((expected - got).abs().max()) < 1e-3


@pytest.mark.parametrize(("name", "scale"), [("upscale_x4", 4), ("upscale_x2", 2)])
def test_spandrel_loads_our_upscalers_as_realesrgan_compact(name, scale, tmp_path):
    import spandrel

    ours = load_network(name)
    assert ours.arch == "compact"
    target = tmp_path / f"{name}.safetensors"
    assert cli(["export", name, "-o", str(target)]) == 0
    theirs = spandrel.ModelLoader().load_from_file(str(target))
    assert theirs.architecture.id == "Compact" and theirs.scale == scale
    x = _image(3, 40, 56)
    with torch.inference_mode():
        expected = ours.run_tensor(x).clamp(0, 1)
        theirs.model.eval()
        got = theirs(x)
    assert got.shape == expected.shape == (1, 3, 40 * scale, 56 * scale)
    assert float((expected - got).abs().max()) < 1e-3


@pytest.mark.parametrize("name", ["denoise_color", "upscale_x4"])
def test_onnxruntime_runs_our_export_and_agrees(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    ours = load_network(name)
    target = tmp_path / f"{name}.onnx"
    assert cli(["export", name, "-o", str(target), "--format", "onnx"]) == 0
    x = _image(ours.in_channels, 40, 88)  # not the size the graph was traced at
    feed = {"image": x.numpy()}
    if ours.needs_sigma:
        feed["sigma"] = np.array([30.0], dtype=np.float32)
    (got,) = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"]).run(None, feed)
    with torch.inference_mode():
        expected = ours.run_tensor(x, sigma=30.0 if ours.needs_sigma else None).numpy()
    assert got.shape == expected.shape == (1, 3, 40 * ours.scale, 88 * ours.scale)
    assert float(np.abs(got - expected).max()) < 1e-3


def test_export_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(ModelLoadError, match="edsr.*no spandrel equivalent.*onnx"):
        export_model(load_network("upscale_real_x4"), tmp_path / "x.safetensors", "safetensors")
    assert not (tmp_path / "x.safetensors").exists()
    existing = tmp_path / "y.onnx"
    existing.write_bytes(b"keep")
    assert cli(["export", "denoise_color", "-o", str(existing), "--format", "onnx"]) == 2
    assert existing.read_bytes() == b"keep"
