"""Real camera noise: the automatic mode measures it with the blind real-photo model
(denoise_real) and removes it; clean photos and white noise keep their old paths."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from restora import auto
from restora.cli import main
from restora.degrade import camera_pair
from restora.io import read_image
from restora.options import Choice, Params
from restora.run import Restorer
from tests.conftest import shared_dataset


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    a8 = np.rint(np.clip(a, 0, 1) * 255)
    b8 = np.rint(np.clip(b, 0, 1) * 255)
    return float(10 * np.log10(255.0**2 / np.mean((a8 - b8) ** 2)))


@pytest.fixture
def camera_shot(astronaut):
    """(noisy, reference): a camera rendering at a high ISO (noise correlated by in-camera
    noise reduction, then a quality-90 JPEG), and the same scene rendered without noise."""
    noisy, target = camera_pair(astronaut[128:384, 128:384], np.random.default_rng(4),
                                shot=1e-3, read=1e-7, quality=(90, 90), sharpen=0.0,
                                noise_blur=0.6)
    return noisy, target


def _jpeg_photo(pixels: np.ndarray, path, quality: int = 95):
    Image.fromarray(np.rint(pixels * 255).astype(np.uint8)).save(path, "JPEG", quality=quality)
    return read_image(path)


def test_noise_readings_tell_camera_white_and_clean_apart(astronaut, camera_shot):
    noisy, _ = camera_shot
    cam = auto.read_noise(noisy)
    assert cam.kind == "camera" and cam.camera >= auto.CAMERA_THRESHOLD
    assert cam.white < auto.WHITE_SHARE * cam.camera  # correlated: the finest scale sees little
    clean = auto.read_noise(astronaut)
    assert clean.kind == "clean" and clean.camera < auto.CAMERA_THRESHOLD
    awgn = np.clip(astronaut + np.random.default_rng(0).normal(0, 20 / 255, astronaut.shape), 0, 1)
    white = auto.read_noise(awgn.astype(np.float32))
    assert white.kind == "white" and 17 < white.white < 23


def test_auto_and_task_denoise_remove_camera_noise(camera_shot, tmp_path):
    noisy, reference = camera_shot
    path = tmp_path / "shot.png"
    Image.fromarray(np.rint(noisy * 255).astype(np.uint8)).save(path)
    photo = read_image(path)
    before = _psnr(reference, photo.pixels)
    out, report = Restorer(Choice()).run_photo(photo)
    assert [s.runs for s in report.plan.steps] == ["denoise_real"]
    assert "Camera noise" in report.plan.explain()
    gain = _psnr(reference, out.pixels) - before
    assert gain > 2.0, gain
    same, rep = Restorer(Choice(task="denoise")).run_photo(photo)  # the same decision
    assert rep.runs == "denoise_real"
    np.testing.assert_array_equal(same.pixels, out.pixels)
    # a sigma given means white noise at that level: the noise-map model, as before
    _, given = Restorer(Choice(task="denoise")).run_photo(photo, Params(sigma=10))
    assert given.runs == "denoise_color"


def test_clean_jpeg_is_left_alone_and_weights_off_skip_the_probe(astronaut, tmp_path, monkeypatch):
    photo = _jpeg_photo(astronaut, tmp_path / "clean.jpg")
    plan = auto.plan(photo)
    assert plan.steps == () and plan.detected["camera_noise"] < auto.CAMERA_THRESHOLD
    monkeypatch.setenv("RESTORA_DEFAULT_WEIGHTS", "off")
    assert auto.read_noise(photo.pixels).camera is None


def test_cli_explain_names_the_measurement(camera_shot, tmp_path, capsys):
    noisy, _ = camera_shot
    src = tmp_path / "shot.jpg"
    Image.fromarray(np.rint(noisy * 255).astype(np.uint8)).save(src, "JPEG", quality=92)
    assert main(["restore", str(src), "-o", str(tmp_path / "out.jpg"), "--explain"]) == 0
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "denoise (denoise_real)" in out and "Camera noise: the blind real-photo model" in out
    assert main(["info", str(src)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "camera-noise reading" in x)
    assert float(line.split("│")[-2]) >= auto.CAMERA_THRESHOLD


# --- floors on real data (skip without ../shared) ---------------------------------------------

#: Mean RGB PSNR of the automatic mode on nam_real_noise images 01, 06, 11, 16, 21
#: (docs/benchmarks.md has all 25: `benchmarks/real_noise_eval.py`; input 37.4 here).
NAM_FLOOR = 39.0


def test_real_camera_noise_floor():
    root = shared_dataset("nam_real_noise")
    restorer = Restorer(Choice())
    before, after = [], []
    for n in ("01", "06", "11", "16", "21"):
        photo = read_image(root / "noisy" / f"{n}_noise.png")
        gt = read_image(root / "gt" / f"{n}_gt.png").pixels
        out, _ = restorer.run_photo(photo)
        before.append(_psnr(gt, photo.pixels))
        after.append(_psnr(gt, out.pixels))
    assert np.mean(after) >= NAM_FLOOR, (np.mean(before), np.mean(after))


def test_clean_photos_do_not_get_the_camera_step(tmp_path):
    """Clean LIVE1 photos saved as in-camera JPEGs (q95): the camera-noise step leaves the
    flat-texture ones alone (what the older white-noise path does on busy ones is measured
    in docs/benchmarks.md)."""
    root = shared_dataset("live1")
    for name in ("caps", "carnivaldolls", "churchandcapitol", "lighthouse3", "monarch", "ocean",
                 "paintedhouse", "plane"):
        original = Image.open(root / f"{name}.png").convert("RGB")
        path = tmp_path / f"{name}.jpg"
        original.save(path, "JPEG", quality=95)
        plan = auto.plan(read_image(path))
        assert all(s.noise != "camera" for s in plan.steps), (name, plan.explain())


def test_strength_blends_the_denoised_result_with_the_input(astronaut):
    """--strength s: input + s * (result - input), for every entry point through the runner;
    it does not apply to upscaling."""
    import restora
    from restora.errors import InvalidParameterError

    noisy = np.clip(astronaut[:96, :96] + np.random.default_rng(1).normal(0, 20 / 255, (96, 96, 3)),
                    0, 1).astype(np.float32)
    full = restora.restore(noisy, task="denoise", sigma=20)
    half = restora.restore(noisy, task="denoise", sigma=20, strength=0.5)
    np.testing.assert_allclose(half, noisy + 0.5 * (full - noisy), atol=1e-6)
    np.testing.assert_array_equal(restora.restore(noisy, task="denoise", sigma=20, strength=0.0), noisy)
    with pytest.raises(InvalidParameterError, match="strength"):
        restora.restore(noisy, task="upscale", scale=2, strength=0.5)
