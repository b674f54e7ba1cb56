"""The ONNX Runtime engine of the one network runner (``backend``): which engine runs what,
and that it computes what torch computes, on the shipped weights."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import restora
from restora.errors import InvalidParameterError
from restora.metrics import psnr
from restora.models import load_model
from restora.models.inference import InferenceRunner, resolve_backend
from restora.options import Execution
from restora.weights import WEIGHTS_DIR

pytest.importorskip("onnxruntime")


def _shipped(name: str):
    return load_model(WEIGHTS_DIR / f"{name}.safetensors")


@pytest.mark.parametrize(("name", "engine"), [
    ("denoise_color", "onnxruntime"),   # DRUNet: 0.75-0.84x torch's time
    ("upscale_x4", "torch"),            # the compact upscaler: ONNX Runtime 1.3x slower
    ("upscale_real_x4", "torch"),       # EDSR: 1.7x slower
])
def test_auto_follows_the_architecture_table(name: str, engine: str) -> None:
    model = _shipped(name)
    assert resolve_backend("auto", device="cpu", precision="fp32", model=model) == engine
    # bf16 (native on AMX / AVX512-BF16 CPUs) and GPUs stay with torch
    assert resolve_backend("auto", device="cpu", precision="bf16", model=model) == "torch"
    assert resolve_backend("auto", device="cuda", precision="fp16", model=model) == "torch"
    assert resolve_backend("torch", device="cpu", precision="fp32", model=model) == "torch"
    # asked for by name, ONNX Runtime runs any of restora's own architectures on the CPU
    assert resolve_backend("onnxruntime", device="cpu", precision="fp32", model=model) == "onnxruntime"


def test_onnxruntime_refused_where_it_cannot_run(tmp_path) -> None:
    """Zero-DCE estimates its curves on a copy downscaled by a factor that depends on the
    input size: a traced ONNX graph froze it (0.09 off at 1024 px), so it is never exported
    nor run by ONNX Runtime."""
    from restora.errors import ModelLoadError
    from restora.models.export import export_model

    lowlight = _shipped("lowlight")
    assert resolve_backend("auto", device="cpu", precision="fp32", model=lowlight) == "torch"
    with pytest.raises(InvalidParameterError, match="does not export to ONNX"):
        resolve_backend("onnxruntime", device="cpu", precision="fp32", model=lowlight)
    with pytest.raises(ModelLoadError, match="does not export to ONNX"):
        export_model(lowlight, tmp_path / "lowlight.onnx", "onnx")
    assert not (tmp_path / "lowlight.onnx").exists()
    model = _shipped("denoise_color")
    with pytest.raises(InvalidParameterError, match="on the CPU in fp32"):
        resolve_backend("onnxruntime", device="cpu", precision="bf16", model=model)
    with pytest.raises(InvalidParameterError, match="backend must be one of"):
        resolve_backend("tensorrt", device="cpu", precision="fp32", model=model)
    with pytest.raises(InvalidParameterError, match="backend"):
        Execution(backend="tensorrt")


def test_same_result_as_torch_on_a_photo(astronaut: np.ndarray) -> None:
    """The shipped colour denoiser at sigma 25 through both engines: the same PSNR to 1e-3
    dB and the same pixels to 1e-4, and it actually denoises (> 8 dB over the input)."""
    noisy = np.clip(astronaut + np.random.default_rng(0).normal(0, 25 / 255, astronaut.shape),
                    0, 1).astype(np.float32)
    outs = {b: restora.restore(noisy, task="denoise", sigma=25, precision="fp32", backend=b)
            for b in ("torch", "onnxruntime")}
    assert np.abs(outs["torch"] - outs["onnxruntime"]).max() < 1e-4
    gains = {b: psnr(astronaut, y) - psnr(astronaut, noisy) for b, y in outs.items()}
    assert gains["onnxruntime"] > 8.0
    assert abs(gains["onnxruntime"] - gains["torch"]) < 1e-3


def test_batches_gray_input_ensemble_and_gradients(camera: np.ndarray) -> None:
    """Tiles batched (N > 1), a gray image into the colour network, the x8 ensemble, and a
    gradient (plug-and-play / DPS) through torch even when the engine is ONNX Runtime."""
    import torch

    model = _shipped("denoise_color")
    ref = InferenceRunner(model, device="cpu", precision="fp32")
    ort = InferenceRunner(model, device="cpu", precision="fp32", backend="onnxruntime")
    assert ort.backend == "onnxruntime" and ref.backend == "torch"
    tiles = np.stack([camera[:96, :96], camera[200:296, 100:196]])
    assert np.abs(ort.run_batch(tiles, sigma=15) - ref.run_batch(tiles, sigma=15)).max() < 1e-4

    ens_ort = InferenceRunner(model, device="cpu", precision="fp32", backend="onnxruntime", ensemble=True)
    ens_ref = InferenceRunner(model, device="cpu", precision="fp32", ensemble=True)
    one = tiles[:1]
    assert np.abs(ens_ort.run_batch(one, sigma=15) - ens_ref.run_batch(one, sigma=15)).max() < 1e-4

    x = torch.from_numpy(tiles[:1].transpose(0, 3, 1, 2).copy()).requires_grad_(True)
    y = ort.as_denoiser(grad=True)(x, 15 / 255)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_cli_backend_flag(tmp_path) -> None:
    from PIL import Image

    src = tmp_path / "in.png"
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(src)
    bad = subprocess.run([sys.executable, "-m", "restora.cli", "restore", str(src), "-o",
                          str(tmp_path / "out.png"), "--backend", "tensorrt"],
                         check=False, capture_output=True, text=True)
    assert bad.returncode != 0 and not (tmp_path / "out.png").exists()
    assert "backend" in bad.stderr and "Traceback" not in bad.stderr
    good = subprocess.run([sys.executable, "-m", "restora.cli", "restore", str(src), "-o",
                           str(tmp_path / "out.png"), "--task", "denoise", "--sigma", "15",
                           "--precision", "fp32", "--backend", "onnxruntime"],
                          check=False, capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert Image.open(tmp_path / "out.png").size == (48, 40)
