"""Zero-reference training (Zero-DCE losses), the low-light degradation, the lowlight recipe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from restora.color import srgb_to_linear
from restora.degrade import low_light
from restora.errors import InvalidParameterError
from restora.train.config import config_from_dict, load_config

torch = pytest.importorskip("torch")

from restora.archs.zerodce import ZeroDCE
from restora.train import zero_reference as zr

REPO = Path(__file__).resolve().parents[2]


# --- the losses -----------------------------------------------------------------------------


def test_losses_closed_forms():
    c = torch.full((2, 3, 32, 32), 0.3)
    assert float(zr.exposure_control(c, 0.6)) == pytest.approx(0.09, rel=1e-6)  # (0.3 - 0.6)^2
    x = torch.rand(2, 3, 32, 32)
    assert float(zr.spatial_consistency(x, x)) == 0.0
    # a uniform gain k scales every 4x4-region difference by k: loss = (k - 1)^2 * loss(0 -> x)
    base = float(zr.spatial_consistency(torch.zeros_like(x), x))
    assert float(zr.spatial_consistency(x, 3 * x)) == pytest.approx(4 * base, rel=1e-5)
    assert float(zr.colour_constancy(torch.full((1, 3, 8, 8), 0.4))) == pytest.approx(0.0, abs=1e-5)
    rgb = torch.tensor([0.5, 0.3, 0.1]).reshape(1, 3, 1, 1).expand(1, 3, 8, 8)
    want = np.sqrt(0.2**4 + 0.4**4 + 0.2**4)
    assert float(zr.colour_constancy(rgb)) == pytest.approx(want, rel=1e-5)
    assert float(zr.colour_constancy(torch.rand(1, 1, 8, 8))) == 0.0  # gray: no colour
    assert float(zr.illumination_smoothness(torch.full((2, 1, 9, 9), 0.7))) == 0.0
    ramp = torch.arange(5.0).reshape(1, 1, 1, 5).expand(1, 1, 4, 5)  # horizontal steps of 1
    assert float(zr.illumination_smoothness(ramp)) == pytest.approx(2.0)


def test_the_losses_pull_a_dark_image_up():
    torch.manual_seed(0)
    net = ZeroDCE(num_features=8, iterations=4)
    x = torch.rand(4, 3, 32, 32) * 0.1
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = zr.zero_reference_loss(net, x)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first
    with torch.no_grad():
        assert float(net(x).mean()) > 2 * float(x.mean())


# --- the degradation ------------------------------------------------------------------------


def test_low_light_cuts_exposure_in_linear_light():
    from skimage import data

    x = data.astronaut()[100:196, 150:246].astype(np.float32) / 255
    a = low_light(x, np.random.default_rng(3), stops=3, shot=0.0, read=0.0)
    b = low_light(x, np.random.default_rng(3), stops=3, shot=0.0, read=0.0)
    np.testing.assert_array_equal(a, b)  # seeded
    assert a.shape == x.shape and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    # without noise the raw signal is 1/8: through the camera's gamma 2.2 and tone curve the
    # linear-light mean drops by about 8 (the tone curve darkens dark tones further)
    ratio = srgb_to_linear(x).mean() / srgb_to_linear(a).mean()
    assert 6 < ratio < 20
    noisy = low_light(x, np.random.default_rng(3), stops=3, shot=1e-3, read=1e-6, quality=90)
    assert np.std(noisy - a) > 0.005
    gray = low_light(x[:, :, :1], np.random.default_rng(0), stops=2)
    assert gray.shape == (96, 96, 1)
    with pytest.raises(InvalidParameterError, match="stops must be"):
        low_light(x, np.random.default_rng(0), stops=-1)


# --- the recipe and a few training steps ------------------------------------------------------


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from skimage import data

    from restora.io import write_image

    root = tmp_path_factory.mktemp("data")
    photos = [data.astronaut(), data.coffee(), data.chelsea()]
    for sub, items in (("train", photos[:2]), ("val", photos[2:])):
        (root / sub).mkdir()
        for i, p in enumerate(items):
            write_image(p[:96, :96], root / sub / f"{i}.png")
    return root


def _values(folders, out):
    return {
        "output": str(out), "steps": 4, "seed": 0, "device": "cpu", "log_every": 1,
        "data": {"train": [str(folders / "train")], "val": str(folders / "val"), "channels": 3,
                 "patch_size": 32, "batch_size": 2},
        "degradation": {"kind": "lowlight", "stops_min": 2.0, "stops_max": 3.0},
        "model": {"arch": "zerodce", "task": "lowlight",
                  "options": {"num_features": 4, "iterations": 2}},
        "optim": {"lr": 1e-3, "loss": "zero_reference", "exposure": 0.5, "ema_decay": 0.5},
    }


def test_train_exports_a_lowlight_model(folders, tmp_path):
    from restora.models import load_model
    from restora.train.trainer import train

    result = train(config_from_dict(_values(folders, tmp_path / "run")), progress=False)
    assert result.finished and np.isfinite(result.loss) and result.val_psnr is not None
    model = load_model(result.model_path)
    assert (model.arch, model.task, model.in_channels) == ("zerodce", "lowlight", 3)


def test_recipe_checks(folders, tmp_path):
    values = _values(folders, tmp_path / "x")
    values["optim"]["loss"] = "l1"
    from restora.train.trainer import build_model

    with pytest.raises(InvalidParameterError, match="trains with loss 'zero_reference'"):
        build_model(config_from_dict(values))
    values = _values(folders, tmp_path / "x")
    values["model"] = {"arch": "dncnn", "options": {"depth": 3, "num_features": 4}}
    with pytest.raises(InvalidParameterError, match="does not go with"):
        build_model(config_from_dict(values))
    values = _values(folders, tmp_path / "x")
    values["degradation"]["stops_min"] = 6.0
    with pytest.raises(InvalidParameterError, match="stops_min <= stops_max"):
        config_from_dict(values)
    values = _values(folders, tmp_path / "x")
    values["optim"]["exposure"] = 1.5
    with pytest.raises(InvalidParameterError, match="'exposure' must be in"):
        config_from_dict(values)


def test_shipped_recipe_loads_and_trains_on_training_data_only():
    config = load_config(REPO / "configs" / "default_lowlight.toml")
    assert config.model.arch == "zerodce" and config.optim.loss == "zero_reference"
    assert config.degradation.kind == "lowlight"
    test_sets = ("cbsd68", "b100", "bsd68", "exposure_brackets", "kodak")
    assert not any(t in folder for folder in config.data.train for t in test_sets)
    assert not any(t in (config.data.val or "") for t in test_sets)
