"""The official DnCNN / FFDNet releases load and reproduce their PSNR (needs ../shared; skips otherwise).

Paper protocol (see benchmarks/reproduce_official.py): uint8/255 + N(0, sigma/255) noise,
unclipped, ``np.random.default_rng(seed=index)``; output clipped and rounded to uint8; PSNR
over the whole image. The pinned per-image values were measured with this code (CPU,
torch 2.14.1); the full-set means are in docs/benchmarks.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
WEIGHTS = SHARED / "weights"
BSD68 = SHARED / "datasets" / "bsd68_gray"

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(not (WEIGHTS.is_dir() and BSD68.is_dir()), reason="../shared weights/datasets absent"),
]

# (weight file, sigma) -> PSNR on test001..test003 (seeds 0, 1, 2)
PINNED = {
    ("dncnn/dncnn_gray_sigma15.mat", 15): (28.4200, 32.7779, 32.6460),
    ("dncnn/dncnn_gray_sigma25.mat", 25): (25.9436, 30.2856, 30.1245),
    ("ffdnet/FFDNet_gray.mat", 15): (28.3050, 32.6906, 32.4373),
    ("ffdnet/FFDNet_gray.mat", 25): (25.8603, 30.2457, 30.0115),
}


def _psnr_on(desc, sigma: int, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    from PIL import Image

    scores = []
    for index, path in enumerate(sorted(BSD68.glob("*.png"))[:count]):
        clean = np.asarray(Image.open(path).convert("L"))
        rng = np.random.default_rng(seed=index)
        noisy = (clean / 255.0 + rng.standard_normal(clean.shape) * sigma / 255.0).astype(np.float32)
        out = desc(noisy, sigma=float(sigma)) if desc.needs_sigma else desc(noisy)
        out8 = np.round(np.clip(out, 0, 1) * 255).astype(np.float64)
        scores.append(10 * np.log10(255.0**2 / np.mean((clean - out8) ** 2)))
    return scores


@pytest.fixture(scope="module", autouse=True)
def _two_threads():  # type: ignore[no-untyped-def]
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("weight", "sigma"), list(PINNED))
def test_official_mat_reproduces_pinned_psnr(weight: str, sigma: int) -> None:
    from restora.models import load_model

    desc = load_model(WEIGHTS / weight)
    assert desc.arch == ("ffdnet" if "FFDNet" in weight else "dncnn")
    scores = _psnr_on(desc, sigma, 3)
    np.testing.assert_allclose(scores, PINNED[(weight, sigma)], atol=0.02)


def test_official_configs() -> None:
    """Layer counts/widths as read from the .mat files (colour models are deeper/wider)."""
    from restora.models import load_model

    expect = {
        "dncnn/dncnn_gray_sigma50.mat": ("dncnn", {"in_channels": 1, "depth": 17, "num_features": 64}, "denoise"),
        "dncnn/dncnn_color_sigma25.mat": ("dncnn", {"in_channels": 3, "depth": 20, "num_features": 64}, "denoise"),
        "dncnn/dncnn3_blind.mat": ("dncnn", {"in_channels": 1, "depth": 20, "num_features": 64}, "restore"),
        "ffdnet/FFDNet_color.mat": ("ffdnet", {"in_channels": 3, "depth": 12, "num_features": 96}, "denoise"),
        "ffdnet/FFDNet_gray.mat": ("ffdnet", {"in_channels": 1, "depth": 15, "num_features": 64}, "denoise"),
    }
    for weight, (arch, config, task) in expect.items():
        desc = load_model(WEIGHTS / weight)
        assert desc.arch == arch and desc.task == task, weight
        assert {k: desc.config[k] for k in config} == config, weight
        assert desc.needs_sigma is (arch == "ffdnet")


def test_pickled_whole_module_loads_without_code_and_matches_mat(tmp_path: Path) -> None:
    """dncnn_pytorch_sigma25.pth pickles a ``__main__.DnCNN`` module: read by the restricted
    unpickler (weights_only refuses it); BatchNorm (eps 1e-4 from the pickle) kept; close to
    the MatConvNet sigma-25 model."""
    import torch

    from restora.models import convert, load_model

    desc = load_model(WEIGHTS / "dncnn" / "dncnn_pytorch_sigma25.pth")
    assert desc.arch == "dncnn" and desc.config["batch_norm"] is True and desc.config["depth"] == 17
    eps = {m.eps for m in desc.model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert eps == {1e-4}
    (score,) = _psnr_on(desc, 25, 1)
    assert score == pytest.approx(25.9568, abs=0.02)
    assert abs(score - PINNED[("dncnn/dncnn_gray_sigma25.mat", 25)][0]) < 0.3
    # convert to safetensors: same network back
    again = convert(WEIGHTS / "dncnn" / "dncnn_pytorch_sigma25.pth", tmp_path / "dncnn25.safetensors")
    x = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    np.testing.assert_allclose(again(x), desc(x), atol=1e-6)
