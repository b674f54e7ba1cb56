"""InferenceRunner: batching, ensemble, precision, device and thread options, API/CLI wiring."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

import restora
from restora.cli import main
from restora.errors import InvalidParameterError
from restora.models import load_model
from restora.models.inference import InferenceRunner, resolve_device, resolve_precision
from tests.conftest import WEIGHTS

CUDA = torch.cuda.is_available()


def _save(net: torch.nn.Module, path):
    torch.save(net.state_dict(), path)
    return load_model(path)


@pytest.fixture
def dncnn(tmp_path):
    """A tiny random residual DnCNN (8 features, 4 layers), saved as a state dict and reloaded."""
    from restora.archs import DnCNN

    torch.manual_seed(0)
    return _save(DnCNN(1, 1, num_features=8, depth=4).eval(), tmp_path / "tiny_dncnn.pth")


@pytest.fixture
def ffdnet(tmp_path):
    from restora.archs import FFDNet

    torch.manual_seed(1)
    return _save(FFDNet(1, num_features=8, depth=4).eval(), tmp_path / "tiny_ffdnet.pth")


def _noisy(shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    clean = 0.5 + 0.3 * np.sin(xx / 9) * np.cos(yy / 13)
    return np.clip(clean + rng.normal(0, 0.1, (h, w)), 0, 1).astype(np.float32)[..., None]


# --- batching and the default path -------------------------------------------------------


@pytest.mark.parametrize("which", ["dncnn", "ffdnet"])
def test_batched_tiles_equal_one_at_a_time(which, dncnn, ffdnet):
    model = dncnn if which == "dncnn" else ffdnet
    sigma = 25 if model.needs_sigma else None
    image = _noisy((300, 260))  # 128-pixel tiles: 4 x 4 = 16 tiles -> batches of 4
    single = restora.restore(image, model=model, sigma=sigma, tile=128)
    batched = restora.restore(image, model=model, sigma=sigma, tile=128, batch=4)
    uneven = restora.restore(image, model=model, sigma=sigma, tile=128, batch=3)  # 16 = 5*3 + 1
    assert np.abs(batched - single).max() <= 1e-6
    assert np.abs(uneven - single).max() <= 1e-6
    assert np.abs(single - image).max() > 0.01  # the network did something


def test_cpu_fp32_path_is_byte_identical_to_the_descriptor(dncnn, ffdnet):
    """The runner's plain path is the descriptor's; the entry points run channels-last
    (faster on CPUs too), equal within float rounding."""
    image = _noisy((70, 90))
    for model, sigma in ((dncnn, None), (ffdnet, 25)):
        direct = model(image, sigma=sigma)
        assert np.array_equal(InferenceRunner(model)(image, sigma=sigma), direct)
        assert np.abs(restora.restore(image, model=model, sigma=sigma, tile=None) - direct).max() <= 1e-6


# --- x8 self-ensemble --------------------------------------------------------------------


def test_ensemble_of_an_equivariant_model_changes_nothing(tmp_path):
    """3x3 kernels with the symmetries of the square (centre, edge, corner weights) and zero
    padding make DnCNN commute with flips and 90-degree rotations: the ensemble is a no-op."""
    from restora.archs import DnCNN

    torch.manual_seed(2)
    net = DnCNN(1, 1, num_features=6, depth=4).eval()
    with torch.no_grad():
        for conv in (m for m in net.modules() if isinstance(m, torch.nn.Conv2d)):
            c, e, k = (torch.randn(conv.out_channels, conv.in_channels, 1, 1) * 0.3 for _ in range(3))
            conv.weight.copy_(torch.cat([torch.cat([k, e, k], 3), torch.cat([e, c, e], 3),
                                         torch.cat([k, e, k], 3)], 2))
    model = _save(net, tmp_path / "symmetric.pth")
    image = _noisy((48, 40))
    plain = restora.restore(image, model=model, tile=None)
    ensembled = restora.restore(image, model=model, tile=None, ensemble=True)
    assert np.abs(plain - image).max() > 0.01
    assert np.abs(ensembled - plain).max() <= 1e-6


@pytest.mark.parametrize("which", ["dncnn", "ffdnet"])
def test_ensemble_is_the_mean_of_the_eight_transformed_runs(which, dncnn, ffdnet):
    model = dncnn if which == "dncnn" else ffdnet
    sigma = 30.0 if model.needs_sigma else None
    image = _noisy((36, 50), seed=3)[..., 0]  # not square: rotations change the shape
    runs = []
    for k in range(4):
        for flip in (False, True):
            t = np.rot90(image[:, ::-1] if flip else image, k)
            x = torch.from_numpy(np.ascontiguousarray(t))[None, None]
            with torch.no_grad():
                y = model.model(x, sigma / 255) if sigma else model.model(x)
            y = np.rot90(y[0, 0].numpy(), -k)
            runs.append(y[:, ::-1] if flip else y)
    expected = np.clip(np.mean(runs, axis=0), 0, 1)
    got = InferenceRunner(model, ensemble=True)(image, sigma=sigma)
    plain = InferenceRunner(model)(image, sigma=sigma)
    assert np.abs(got - expected).max() <= 1e-6
    assert np.abs(plain - expected).max() > 1e-3  # a random net is not equivariant


# --- precision and device ----------------------------------------------------------------


def test_bf16_on_cpu_is_close_to_fp32_and_leaves_the_model_alone(dncnn):
    try:
        torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4, dtype=torch.bfloat16),
                                   torch.ones(1, 1, 3, 3, dtype=torch.bfloat16))
    except RuntimeError:
        pytest.skip("this torch build has no CPU bf16 convolution")
    image = _noisy((64, 64))
    fp32 = restora.restore(image, model=dncnn, tile=None)
    bf16 = restora.restore(image, model=dncnn, tile=None, precision="bf16")
    # bf16 keeps 8 mantissa bits. Measured max |diff|: 4.0e-3 on this net; 6.8e-3 (mean
    # 1.2e-3) for the official gray DnCNN on a 128x128 crop. 1/255 = 3.9e-3.
    assert 0 < np.abs(bf16 - fp32).max() < 1e-2
    assert next(dncnn.model.parameters()).dtype == torch.float32  # the descriptor is untouched


def test_channels_last_and_fp16_on_cpu(ffdnet):
    """The device-copy path (channels_last, fp16) on CPU: same result within rounding."""
    image = _noisy((40, 50))
    plain = InferenceRunner(ffdnet)(image, sigma=20)
    assert np.abs(InferenceRunner(ffdnet, channels_last=True)(image, sigma=20) - plain).max() <= 1e-6
    try:
        half = InferenceRunner(ffdnet, precision="fp16")(image, sigma=20)
    except RuntimeError:
        pytest.skip("this torch build has no CPU fp16 convolution")
    assert np.abs(half - plain).max() < 1e-3  # measured 8.8e-5


def test_precision_the_model_does_not_support_is_refused(dncnn):
    fp32_only = dataclasses.replace(dncnn, supported_dtypes=("fp32",))
    with pytest.raises(InvalidParameterError, match=r"does not support precision='bf16'; it supports fp32"):
        InferenceRunner(fp32_only, precision="bf16")
    with pytest.raises(InvalidParameterError, match="supports fp32"):
        restora.restore(_noisy((32, 32)), model=fp32_only, precision="fp16")
    with pytest.raises(InvalidParameterError, match="precision must be one of auto, fp32, fp16, bf16"):
        InferenceRunner(dncnn, precision="float16")
    assert resolve_precision("auto", device="cpu", supported=("fp32", "fp16", "bf16")) == "fp32"
    assert resolve_precision("auto", device="mps", supported=("fp32",)) == "fp32"


@pytest.mark.skipif(CUDA, reason="checks the message on a machine without CUDA")
def test_unavailable_device_is_refused_with_a_clear_message(dncnn):
    with pytest.raises(InvalidParameterError, match=r"device 'cuda' is not available: .* Use device='cpu'"):
        restora.restore(_noisy((32, 32)), model=dncnn, device="cuda")
    assert resolve_device("auto") in ("cpu", "mps")


def test_unknown_device_name(dncnn):
    with pytest.raises(InvalidParameterError, match=r"device must be one of auto, cpu, cuda, cuda:N, mps; got 'gpu'"):
        InferenceRunner(dncnn, device="gpu")
    assert resolve_device("CPU") == "cpu"


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_cuda_matches_cpu(dncnn, precision):
    image = _noisy((300, 260))
    cpu = restora.restore(image, model=dncnn, tile=128)
    gpu = restora.restore(image, model=dncnn, tile=128, device="cuda", precision=precision, batch=4)
    assert np.abs(gpu - cpu).max() < (1e-4 if precision == "fp32" else 1e-2)
    runner = InferenceRunner(dncnn, device="cuda", precision=precision, channels_last=True)
    assert np.abs(runner(image) - dncnn(image)).max() < (1e-4 if precision == "fp32" else 1e-2)
    assert next(dncnn.model.parameters()).device.type == "cpu"


# --- classical methods run on the CPU whatever the execution options ------------------------


def test_network_options_leave_classical_methods_alone():
    """Execution options apply to methods that run networks; a classical method (here the
    fallback a batch may pick for some images) runs on the CPU as always."""
    image = _noisy((32, 32))
    plain = restora.restore(image, method="nlm", sigma=10)
    same = restora.restore(image, method="nlm", sigma=10, device="cpu", precision="fp16",
                           ensemble=True, batch=4)
    np.testing.assert_array_equal(plain, same)


# --- threads -----------------------------------------------------------------------------


def test_threads_apply_during_the_call_and_are_restored(dncnn):
    import cv2

    before = (torch.get_num_threads(), cv2.getNumThreads())
    seen = []
    image = _noisy((100, 100))
    restora.restore(image, model=dncnn, tile=80, threads=1,
                    progress=lambda d, t: seen.append((torch.get_num_threads(), cv2.getNumThreads())))
    assert seen and all(s == (1, 1) for s in seen)
    assert (torch.get_num_threads(), cv2.getNumThreads()) == before
    # Also on an error inside the call, and for the runner on its own.
    with pytest.raises(InvalidParameterError):
        restora.restore(image, method="nlm", sigma=-5, threads=1)
    assert (torch.get_num_threads(), cv2.getNumThreads()) == before
    InferenceRunner(dncnn, threads=1)(image)
    assert torch.get_num_threads() == before[0]
    with pytest.raises(InvalidParameterError, match="threads must be an integer >= 1; got 0"):
        restora.restore(image, model=dncnn, threads=0)


# --- tiling --------------------------------------------------------------------------------


def _big_dncnn(tmp_path):
    """Official gray sigma=25 DnCNN when ../shared has it, else a random net of the same depth."""
    official = WEIGHTS / "dncnn" / "dncnn_gray_sigma25.mat"
    if official.is_file():
        return load_model(official)
    from restora.archs import DnCNN

    torch.manual_seed(4)
    return _save(DnCNN(1, 1, num_features=16, depth=17).eval(), tmp_path / "dncnn17.pth")


def test_tiled_equals_whole_image_on_2000x1500(tmp_path):
    """Default tile and overlap vs one whole-image pass, same receptive field (17 layers) as
    the official DnCNN. Random 4-feature weights keep it fast; the official 64-feature
    weights on this size are in benchmarks/model_inference.py (--part tiled)."""
    from restora.archs import DnCNN

    torch.manual_seed(5)
    model = _save(DnCNN(1, 1, num_features=4, depth=17).eval(), tmp_path / "deep.pth")
    image = _noisy((1500, 2000), seed=6)
    tiled = restora.restore(image, model=model)  # tile auto: 551, 3 x 4 tiles, overlap 68
    whole = restora.restore(image, model=model, tile=None)
    assert np.abs(whole - image).max() > 0.01
    assert np.abs(tiled - whole).max() < 1 / 255


def test_tiled_equals_whole_image_with_official_weights(tmp_path):
    model = _big_dncnn(tmp_path)
    image = _noisy((240, 300), seed=7)
    tiled = restora.restore(image, model=model, tile=160)  # 2 x 3 tiles, overlap 68
    whole = restora.restore(image, model=model, tile=None)
    assert np.abs(tiled - whole).max() < 1 / 255


# --- CLI -----------------------------------------------------------------------------------


def test_cli_restore_with_inference_options(dncnn, tmp_path):
    source = tmp_path / "in.png"
    image = np.rint(_noisy((120, 140))[..., 0] * 255).astype(np.uint8)
    Image.fromarray(image).save(source)
    out = tmp_path / "out.png"
    args = ["restore", str(source), "-o", str(out), "--model", str(dncnn.source), "--tile", "100",
            "--batch", "4", "--ensemble", "--threads", "1", "--device", "cpu", "--precision", "fp32"]
    assert main(args) == 0
    expected = restora.restore(image, model=dncnn, tile=100, ensemble=True)
    assert np.array_equal(np.asarray(Image.open(out)), expected)


def test_cli_generative_methods_take_device_and_precision(tmp_path):
    """diffpir and zs_n2n run networks: they take --device and --precision like --model."""
    source = tmp_path / "in.png"
    Image.fromarray(np.rint(_noisy((24, 24))[..., 0] * 255).astype(np.uint8)).save(source)
    for method, extra in (("zs_n2n", ["-O", "iterations=3"]),
                          ("diffpir", ["--task", "deblur", "--kernel", "gauss:1.0", "--sigma", "2",
                                       "-O", "steps=2"])):
        code = main(["restore", str(source), "-o", str(tmp_path / f"{method}.png"), "--method",
                     method, "--device", "cpu", "--precision", "bf16", *extra])
        assert code == 0 and (tmp_path / f"{method}.png").is_file()


@pytest.mark.skipif(CUDA, reason="checks the message on a machine without CUDA")
def test_cli_eval_unavailable_device(dncnn, tmp_path, capsys):
    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(folder / "a.png")
    code = main(["eval", "--model", str(dncnn.source), "--dataset", str(folder), "--sigma", "25",
                 "--device", "cuda"])
    assert code == 2
    assert "device 'cuda' is not available" in capsys.readouterr().err


def test_auto_tile_minimises_the_pixels_run():
    from restora.models.inference import fit_tile
    from restora.pipeline import tile_grid

    def work(h, w, t):
        rows, cols, th, tw = tile_grid(h, w, tile=t, overlap=68)
        return len(rows) * len(cols) * th * tw / (h * w)

    assert fit_tile(768, 1024, max_tile=1024, overlap=68) == (1024, 1024)  # one tile
    assert work(1500, 2000, 1024) > 2.0  # the fixed grid shifts the last tiles far inward
    t = fit_tile(1500, 2000, max_tile=1024, overlap=68)
    assert t == (784, 712)  # 2 rows: 2 * 784 - 68 = 1500; 3 columns: 3 * 712 - 136 = 2000
    assert work(1500, 2000, t) == 6 * 784 * 712 / (1500 * 2000)  # 1.116
    squares = [work(1500, 2000, side) for side in range(137, 1025)]
    assert work(1500, 2000, t) < min(squares) - 0.09  # the best square: 1.21
    rects = [work(1500, 2000, (a, b)) for a in range(137, 1025, 7) for b in range(137, 1025, 7)]
    assert work(1500, 2000, t) <= min(rects)
    # the 2 MP photo of benchmarks/speed_table.py with DRUNet's overlap: 4 tiles, 1.20x
    assert fit_tile(1224, 1632, max_tile=1024, overlap=128, multiple=8) == (680, 880)


def test_import_and_construction_have_no_side_effects(dncnn):
    import subprocess
    import sys

    code = "import sys, restora.models.inference; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
    runner = InferenceRunner(dncnn, precision="bf16") if "bf16" in dncnn.supported_dtypes else None
    assert runner is not None and runner._prepared is None  # nothing copied or moved yet


class _Overflowing(torch.nn.Module):
    """A 1x1 conv whose output is about 1e5: finite in fp32, inf in fp16 (max 65504)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1, bias=False)
        torch.nn.init.constant_(self.conv.weight, 2e5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) / 2e5


def test_fp16_overflow_falls_back_to_fp32_with_a_warning():
    from restora.models import ModelDescriptor

    desc = ModelDescriptor.from_module(_Overflowing(), needs_sigma=False)
    image = np.full((8, 8, 1), 0.5, np.float32)
    runner = InferenceRunner(desc, device="cpu", precision="fp16")
    try:
        with pytest.warns(RuntimeWarning, match="fp16 overflowed .* running in fp32"):
            out = runner(image)
    except RuntimeError as exc:  # a torch build without CPU fp16 autocast
        pytest.skip(f"no CPU fp16: {exc}")
    np.testing.assert_allclose(out, 0.5, atol=1e-6)  # the fp32 result, not inf clipped to 1
