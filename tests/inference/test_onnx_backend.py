"""The graph engines of the one network runner (``backend``: ONNX Runtime, OpenVINO): which
engine runs what, and that they compute what torch computes, on the shipped weights."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import restora
from restora.errors import InvalidParameterError
from restora.metrics import psnr
from restora.models import inference, load_model
from restora.models.inference import InferenceRunner, resolve_backend
from restora.options import Execution
from restora.weights import WEIGHTS_DIR

pytest.importorskip("onnxruntime")


def _shipped(name: str):
    return load_model(WEIGHTS_DIR / f"{name}.safetensors")


@pytest.mark.parametrize(("name", "engine"), [
    ("denoise_color", "openvino"),      # DRUNet: OpenVINO 0.5x torch's time, ONNX Runtime 0.8x
    ("upscale_x4", "torch"),            # the compact upscaler: neither is faster
    ("upscale_real_x4", "openvino"),    # EDSR: OpenVINO 0.8x, ONNX Runtime 1.9x
])
def test_auto_follows_the_architecture_table(name: str, engine: str) -> None:
    model = _shipped(name)
    for precision in ("fp32", "bf16"):
        assert resolve_backend("auto", device="cpu", precision=precision, model=model) == engine
    assert resolve_backend("auto", device="cuda", precision="fp16", model=model) == "torch"
    assert resolve_backend("torch", device="cpu", precision="fp32", model=model) == "torch"
    # asked for by name, the graph engines run any of restora's own architectures on the CPU
    assert resolve_backend("onnxruntime", device="cpu", precision="fp32", model=model) == "onnxruntime"
    assert resolve_backend("openvino", device="cpu", precision="bf16", model=model) == "openvino"


def test_auto_without_openvino(monkeypatch) -> None:
    """Without the OpenVINO package, DRUNet runs with ONNX Runtime in fp32 and torch in bf16;
    asked for by name, OpenVINO is refused with the install command."""
    monkeypatch.setattr(inference, "engine_available", lambda engine: engine != "openvino")
    model = _shipped("denoise_color")
    assert resolve_backend("auto", device="cpu", precision="fp32", model=model) == "onnxruntime"
    assert resolve_backend("auto", device="cpu", precision="bf16", model=model) == "torch"
    with pytest.raises(InvalidParameterError, match="pip install openvino"):
        resolve_backend("openvino", device="cpu", precision="fp32", model=model)


def test_an_engine_that_fails_to_load(monkeypatch, camera: np.ndarray) -> None:
    """If the graph engine cannot be built (export or compile fails), ``auto`` warns once
    and runs torch, with torch's result; asked for by name, one clear error."""
    def broken(*args, **kwargs):
        raise RuntimeError("compile failed\nsecond line")

    monkeypatch.setattr(inference, "OpenVinoNetwork", broken)
    model = _shipped("denoise_color")
    tile = camera[:64, :64]
    auto = InferenceRunner(model, device="cpu", precision="fp32", backend="auto")
    assert auto.backend == "openvino"
    with pytest.warns(RuntimeWarning, match="openvino could not load .*compile failed; running it with torch"):
        out = auto(tile, sigma=15)
    assert auto.backend == "torch"
    torch_out = InferenceRunner(model, device="cpu", precision="fp32")(tile, sigma=15)
    assert np.array_equal(out, torch_out)
    named = InferenceRunner(model, device="cpu", precision="fp32", backend="openvino")
    with pytest.raises(InvalidParameterError, match="^backend openvino could not load .*compile failed; use"):
        named(tile, sigma=15)


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
    with pytest.raises(InvalidParameterError, match="on the CPU in fp32 or bf16"):
        resolve_backend("openvino", device="cpu", precision="fp16", model=model)
    with pytest.raises(InvalidParameterError, match="does not export to ONNX"):
        resolve_backend("openvino", device="cpu", precision="fp32", model=lowlight)
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
            for b in ("torch", "onnxruntime", "openvino")}
    gains = {b: psnr(astronaut, y) - psnr(astronaut, noisy) for b, y in outs.items()}
    for engine in ("onnxruntime", "openvino"):
        assert np.abs(outs["torch"] - outs[engine]).max() < 1e-4
        assert gains[engine] > 8.0
        assert abs(gains[engine] - gains["torch"]) < 1e-3


def test_openvino_bf16_matches_torch_bf16(astronaut: np.ndarray) -> None:
    """OpenVINO's bf16 (its inference precision; on a CPU without native bf16 OpenVINO runs
    fp32 instead) lands within 0.02 dB of torch's bf16 autocast and of fp32 on a noisy photo."""
    noisy = np.clip(astronaut + np.random.default_rng(0).normal(0, 25 / 255, astronaut.shape),
                    0, 1).astype(np.float32)
    crop, clean = noisy[:256, :256], astronaut[:256, :256]
    score = {(b, p): psnr(clean, restora.restore(crop, task="denoise", sigma=25, precision=p,
                                                 backend=b))
             for b in ("torch", "openvino") for p in ("fp32", "bf16")}
    assert abs(score["openvino", "bf16"] - score["torch", "bf16"]) < 0.02
    assert abs(score["openvino", "bf16"] - score["torch", "fp32"]) < 0.02


def test_openvino_serves_concurrent_calls(camera: np.ndarray) -> None:
    """One runner shared by threads (the web server, batch threads): each call has its own
    infer request, so the results are those of calls made one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    runner = InferenceRunner(_shipped("denoise_color"), device="cpu", precision="fp32",
                             backend="openvino")
    tiles = [camera[i * 64 : i * 64 + 96, :96] for i in range(4)]
    alone = [runner(t, sigma=15) for t in tiles]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda t: runner(t, sigma=15), tiles))
    assert all(np.array_equal(a, b) for a, b in zip(alone, together, strict=True))


@pytest.mark.parametrize("engine", ["onnxruntime", "openvino"])
def test_batches_gray_input_ensemble_and_gradients(camera: np.ndarray, engine: str) -> None:
    """Tiles batched (N > 1), a gray image into the colour network, the x8 ensemble, and a
    gradient (plug-and-play / DPS) through torch even when the engine is a graph engine."""
    import torch

    model = _shipped("denoise_color")
    ref = InferenceRunner(model, device="cpu", precision="fp32")
    ort = InferenceRunner(model, device="cpu", precision="fp32", backend=engine)
    assert ort.backend == engine and ref.backend == "torch"
    tiles = np.stack([camera[:96, :96], camera[200:296, 100:196]])
    assert np.abs(ort.run_batch(tiles, sigma=15) - ref.run_batch(tiles, sigma=15)).max() < 1e-4

    ens_ort = InferenceRunner(model, device="cpu", precision="fp32", backend=engine, ensemble=True)
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
