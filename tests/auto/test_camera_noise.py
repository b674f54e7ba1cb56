"""Real camera noise: the automatic mode measures it with the blind real-photo model
(denoise_real) and removes it with the noise-map model at a sigma derived from that reading;
fine texture is not taken for white noise; clean photos and white noise keep their paths."""

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
    (step,) = report.plan.steps
    reading = report.plan.detected["camera_noise"]
    assert step.runs == "denoise_color" and step.noise == "camera"
    assert step.sigma == auto.camera_sigma(reading)
    assert auto.camera_sigma(1.8) == round(auto.CAMERA_SIGMA_PER_RMS * 1.8, 1)  # in range: 6x
    assert auto.camera_sigma(0.2) == auto.CAMERA_SIGMA_RANGE[0]
    assert "Camera noise" in report.plan.explain()
    # restora's synthetic camera noise is finer than real in-camera noise: the noise-map
    # model gains little on it (the real pairs are the measure: floor below), but must not
    # smooth the photo below its input (sigma capped; 22 here would lose 0.5 dB)
    gain = _psnr(reference, out.pixels) - before
    assert step.sigma == auto.CAMERA_SIGMA_RANGE[1] and gain > 0.05, gain
    same, rep = Restorer(Choice(task="denoise")).run_photo(photo)  # the same decision
    assert rep.runs == "denoise_color" and rep.sigma == step.sigma
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
    assert "denoise (denoise_color)" in out and "Camera noise: the blind real-photo model" in out
    assert main(["info", str(src)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "camera-noise reading" in x)
    assert float(line.split("│")[-2]) >= auto.CAMERA_THRESHOLD


# --- floors on real data (skip without ../shared) ---------------------------------------------

#: Mean RGB PSNR of the automatic mode on nam_real_noise images 01, 06, 11, 16, 21
#: (docs/benchmarks.md has all 25: `benchmarks/real_noise_eval.py`; input 37.4 here).
NAM_FLOOR = 40.0


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


def _bricks(size: int = 384) -> np.ndarray:
    """A clean running-bond brick pattern (5 px courses, 9 px bricks) in reddish gray."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    offset = 4.5 * (np.floor(yy / 5) % 2)
    img = 0.5 + 0.25 * np.sign(np.sin(2 * np.pi * yy / 5)) * np.sign(
        np.sin(2 * np.pi * (xx + offset) / 9))
    rgb = np.repeat(img[..., None], 3, axis=2) * np.array([1.0, 0.85, 0.8], np.float32)
    return np.clip(rgb, 0, 1).astype(np.float32)


def test_fine_texture_that_reads_as_white_noise_is_left_alone(astronaut, tmp_path):
    photo = _jpeg_photo(_bricks(), tmp_path / "bricks.jpg")
    reading = auto.read_noise(photo.pixels, jpeg=True)
    assert reading.white >= auto.NOISE_THRESHOLD  # the finest scale takes the bricks for noise
    assert reading.kind == "texture" and reading.structure >= auto.STRUCTURE_MAX
    plan = auto.plan(photo)
    assert not plan.steps and "fine texture" in plan.explain()
    assert plan.detected["structure"] == reading.structure
    # white noise on a photo: removed everywhere alike, so it is still denoised
    noisy = np.clip(astronaut + np.random.default_rng(1).normal(0, 8 / 255, astronaut.shape), 0, 1)
    white = auto.read_noise(noisy.astype(np.float32))
    assert white.kind == "white" and white.structure < auto.STRUCTURE_MAX
    assert [s.action for s in auto.plan(noisy.astype(np.float32)).steps] == ["denoise"]


@pytest.mark.parametrize("sigma", [8, 12, 20])
def test_noise_where_it_was_clipped_is_not_taken_for_texture(sigma, tmp_path):
    """A full-range ramp (black at one end, white at the other) with white noise, as a q92
    JPEG: at both ends the noise is clipped, so little is removed where there is no
    gradient either. Read over the whole crop, that correlation was 0.057-0.082 (above
    STRUCTURE_MAX: "fine texture", the photo left noisy); without the clipped pixels it is
    0.010-0.034, and the photo is denoised."""
    ramp = np.broadcast_to(np.linspace(0, 1, 300, dtype=np.float32)[None, :, None], (200, 300, 3))
    noisy = np.clip(ramp + np.random.default_rng(0).normal(0, sigma / 255, ramp.shape), 0, 1)
    photo = _jpeg_photo(noisy, tmp_path / "ramp.jpg", quality=92)
    reading = auto.read_noise(photo.pixels, jpeg=True)
    assert reading.white >= auto.NOISE_THRESHOLD
    assert reading.kind == "white" and reading.structure < auto.STRUCTURE_MAX
    assert [s.action for s in auto.plan(photo).steps] == ["denoise"]


def test_a_crop_that_is_nearly_all_clipped_reads_no_structure():
    """Less than MIN_UNCLIPPED of the crop away from black and white: nothing to compare."""
    rng = np.random.default_rng(0)
    dark = np.clip(rng.normal(0, 10 / 255, (128, 128, 3)), 0, 1).astype(np.float32)
    assert auto.residual_structure(dark, 10.0, "denoise_color") == 0.0


def test_clean_brick_photo_is_not_denoised(tmp_path):
    """LIVE1 building2 as a q95 JPEG: its brick texture read as sigma 3.3 and the old
    white-noise path cost 1.27 dB; now the automatic mode leaves it unchanged."""
    root = shared_dataset("live1")
    Image.open(root / "building2.png").convert("RGB").save(tmp_path / "b.jpg", "JPEG", quality=95)
    photo = read_image(tmp_path / "b.jpg")
    out, _ = Restorer(Choice()).run_photo(photo)
    np.testing.assert_array_equal(out.pixels, photo.pixels)


@pytest.mark.parametrize("shape", [(1, 4000, 3), (3000, 1, 3), (2, 900, 1)])
def test_thin_noisy_images_are_restored_not_crashed(shape, tmp_path):
    """A 1-pixel-high noisy photo reaches the texture test (white estimate >= 3), which has
    no gradient to compare with: it counts as no structure (found by the fuzz harness with
    the shipped weights on: np.gradient's ValueError escaped restore_file)."""
    rng = np.random.default_rng(0)
    noisy = np.clip(128 + rng.normal(0, 20, shape), 0, 255).astype(np.uint8)
    assert auto.residual_structure(noisy.astype(np.float32) / 255, 20.0, "denoise_color") == 0.0
    path = tmp_path / "thin.png"
    Image.fromarray(noisy.squeeze(-1) if shape[2] == 1 else noisy).save(path)
    assert main(["restore", str(path), "-o", str(tmp_path / "out.png")]) == 0
    out = read_image(tmp_path / "out.png").pixels
    assert out.shape[:2] == shape[:2]
    assert float(np.std(out)) < float(np.std(noisy / 255.0))  # the noise was reduced
