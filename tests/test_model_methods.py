"""Loaded weight files as methods: restore/eval/convert from the CLI and API."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import restora
from restora.cli import main
from restora.errors import InvalidParameterError


@pytest.fixture
def tiny_dncnn(tmp_path):
    """A tiny random residual DnCNN saved as a plain state dict (.pth) and its module."""
    from restora.archs import DnCNN

    torch.manual_seed(0)
    net = DnCNN(in_channels=1, out_channels=1, num_features=8, depth=4).eval()
    path = tmp_path / "tiny_dncnn.pth"
    torch.save(net.state_dict(), path)
    return net, path


@pytest.fixture
def gray_png(tmp_path, camera):
    path = tmp_path / "cam.png"
    Image.fromarray(np.rint(camera[:96, :80, 0] * 255).astype(np.uint8)).save(path)
    return path


def _reference(net, image_u8: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(image_u8.astype(np.float32) / 255)[None, None]
    with torch.no_grad():
        y = net(x)[0, 0].clamp(0, 1).numpy()
    return np.floor(y * 255 + 0.5).astype(np.uint8)


def test_restore_with_model_file_matches_the_network(tiny_dncnn, gray_png, tmp_path):
    net, weights = tiny_dncnn
    out = tmp_path / "out.png"
    assert main(["restore", str(gray_png), "-o", str(out), "--model", str(weights)]) == 0
    got = np.asarray(Image.open(out))
    expected = _reference(net, np.asarray(Image.open(gray_png)))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_tiled_model_equals_whole_image(tiny_dncnn, camera):
    _, weights = tiny_dncnn
    whole = restora.restore(camera, model=weights, tile=None)
    tiled = restora.restore(camera, model=weights, tile=128)
    assert np.abs(whole - tiled).max() < 1 / 255


def test_eval_with_model_file(tiny_dncnn, tmp_path, capsys):
    _, weights = tiny_dncnn
    folder = tmp_path / "set"
    folder.mkdir()
    from skimage import data

    Image.fromarray(data.camera()[:64, :64]).save(folder / "a.png")
    assert main(["eval", "--model", str(weights), "--dataset", str(folder), "--sigma", "25"]) == 0
    assert "model:tiny_dncnn.pth on set" in capsys.readouterr().out


def test_convert_round_trip_and_refusals(tiny_dncnn, gray_png, tmp_path, capsys):
    net, weights = tiny_dncnn
    target = tmp_path / "tiny.safetensors"
    assert main(["convert", str(weights), str(target)]) == 0
    image = np.asarray(Image.open(gray_png)).astype(np.float32) / 255
    a = restora.restore(image, model=weights, tile=None)
    b = restora.restore(image, model=target, tile=None)
    assert np.array_equal(a, b)
    # An existing output is kept unless --overwrite; the input is never the output.
    before = target.read_bytes()
    assert main(["convert", str(weights), str(target)]) == 2
    assert "--overwrite" in capsys.readouterr().err and target.read_bytes() == before
    assert main(["convert", str(weights), str(weights), "--overwrite"]) == 2
    assert "input" in capsys.readouterr().err


def test_model_errors_are_clear(tiny_dncnn, camera, tmp_path, capsys):
    _, weights = tiny_dncnn
    with pytest.raises(InvalidParameterError, match="not 'upscale'"):
        restora.restore(camera, task="upscale", scale=2, model=weights)
    with pytest.raises(InvalidParameterError, match="either a method or a model"):
        restora.restore(camera, method="nlm", model=weights)
    bogus = tmp_path / "bogus.pth"
    bogus.write_text("not weights")
    assert main(["restore", str(tmp_path / "x.png"), "-o", str(tmp_path / "y.png"),
                 "--model", str(bogus)]) == 2
    assert not (tmp_path / "y.png").exists()
