"""The automatic mode: plans (what and why), PSNR gains, CLI --explain, the default table."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import restora
from restora import auto, defaults
from restora.cli import main
from restora.errors import InvalidParameterError, ModelLoadError
from restora.io import read_image
from restora.methods.classical import JPEG_SIGMA_RULE, jpeg_sigma
from restora.options import Choice, Execution, Params
from restora.run import Restorer


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


@pytest.fixture
def clean(astronaut):
    return astronaut[:256, :256]


@pytest.fixture
def noisy(clean):
    rng = np.random.default_rng(0)
    return np.clip(clean + rng.normal(0, 15 / 255, clean.shape), 0, 1).astype(np.float32)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def clean_png(clean, tmp_path):
    path = tmp_path / "clean.png"
    Image.fromarray(_u8(clean)).save(path)
    return path


@pytest.fixture
def noisy_png(noisy, tmp_path):
    path = tmp_path / "noisy.png"
    Image.fromarray(_u8(noisy)).save(path)
    return path


@pytest.fixture
def jpeg20(clean, tmp_path):
    path = tmp_path / "low.jpg"
    Image.fromarray(_u8(clean)).save(path, "JPEG", quality=20)
    return path


def run_auto(image, **params):
    """What every entry point runs in the automatic mode: (pixels, report)."""
    photo = image if isinstance(image, restora.Photo) else None
    pixels = photo.pixels if photo is not None else image
    return Restorer(execution=Execution(tile=None)).run(pixels, Params(**params), photo=photo)


# --- plans ----------------------------------------------------------------------------------


def test_clean_png_needs_nothing(clean_png):
    plan = auto.plan(read_image(clean_png))
    assert plan.steps == ()
    assert "looks clean" in plan.summary and "Not a JPEG (PNG)" in plan.summary
    assert plan.detected["noise_sigma"] < 1 and plan.detected["jpeg_quality"] is None
    assert "nothing to do" in plan.explain()


def test_noisy_png_is_denoised_at_the_estimated_sigma(noisy_png):
    plan = auto.plan(read_image(noisy_png))
    (step,) = plan.steps
    assert (step.action, step.task, step.runs) == ("denoise", "denoise", "denoise_color")
    assert abs(step.sigma - 15) < 1.5  # true sigma 15 (clipped a little at 0/255)
    assert step.sigma == plan.detected["noise_sigma"]
    assert f"Estimated noise level sigma = {step.sigma:.1f}" in step.reason
    assert "denoised with denoise_color" in step.reason
    gray = auto.plan(read_image(noisy_png).pixels[..., :1])
    assert gray.steps[0].runs == "denoise_gray"  # the table picks per channel count


def test_low_quality_jpeg_is_deblocked(jpeg20):
    plan = auto.plan(read_image(jpeg20))
    (step,) = plan.steps
    assert step.action == "deblock" and step.quality == 20 and step.runs == "deblock_gray"
    assert "JPEG quality 20 from the quantisation tables" in step.reason
    assert plan.detected["jpeg_quality"] == 20


def test_high_quality_jpeg_is_not_deblocked(clean, tmp_path):
    path = tmp_path / "hq.jpg"
    Image.fromarray(_u8(clean)).save(path, "JPEG", quality=95)
    plan = auto.plan(read_image(path))
    assert plan.steps == ()
    assert "JPEG quality 95" in plan.summary and "no deblocking" in plan.summary


def test_noisy_jpeg_is_deblocked_then_denoised(noisy, tmp_path):
    path = tmp_path / "noisy.jpg"
    Image.fromarray(_u8(noisy)).save(path, "JPEG", quality=70)
    plan = auto.plan(read_image(path))
    assert [s.action for s in plan.steps] == ["deblock", "denoise"]
    assert plan.steps[1].sigma == plan.detected["noise_sigma"] > auto.NOISE_THRESHOLD


def test_scale_adds_an_upscale_step(noisy_png):
    photo = read_image(noisy_png)
    plan = auto.plan(photo, scale=2)
    assert [s.action for s in plan.steps] == ["denoise", "upscale"]
    assert plan.steps[-1].runs == "upscale_x2" and plan.steps[-1].scale == 2
    assert "Upscale x2 asked" in plan.summary
    pixels, report = run_auto(photo, scale=2)
    assert pixels.shape == (512, 512, 3)
    assert report.runs == "denoise (denoise_color) -> upscale (upscale_x2)"
    assert "No upscale asked" in auto.plan(photo).summary


def test_arrays_have_no_jpeg_quality_unless_given(clean):
    plan = auto.plan(clean)
    assert plan.steps == () and "An array has no JPEG tables" in plan.summary
    plan = auto.plan(clean, quality=30)
    assert plan.steps[0].action == "deblock" and "JPEG quality 30 given" in plan.steps[0].reason


def test_jpeg_sigma_rule_of_the_classical_deblocker_is_monotone_and_interpolated():
    qs, sigmas = JPEG_SIGMA_RULE
    assert list(qs) == sorted(qs) and list(sigmas) == sorted(sigmas, reverse=True)
    assert jpeg_sigma(qs[0]) == sigmas[0] and jpeg_sigma(1) == sigmas[0]
    mid = (qs[2] + qs[3]) / 2
    assert jpeg_sigma(mid) == pytest.approx((sigmas[2] + sigmas[3]) / 2)


# --- running --------------------------------------------------------------------------------


def test_auto_raises_psnr_on_noise(clean, noisy):
    out, report = run_auto(noisy)
    assert report.plan.steps[0].action == "denoise" and report.sigma == pytest.approx(15, abs=1.5)
    assert psnr(out, clean) > psnr(noisy, clean) + 7.0  # measured 24.9 -> 33.2 dB
    assert out.dtype == np.float32 and out.shape == noisy.shape


def test_auto_raises_psnr_on_a_q20_jpeg(clean, jpeg20):
    photo = read_image(jpeg20)
    out, report = run_auto(photo)
    assert report.plan.steps[0].action == "deblock"
    assert psnr(out, clean) > psnr(photo.pixels, clean) + 0.6  # measured 29.84 -> 30.63 dB


@pytest.mark.classical_defaults
def test_classical_fallbacks_in_the_automatic_mode(clean, noisy, jpeg20):
    photo = read_image(jpeg20)
    (step,) = auto.plan(photo).steps
    assert step.runs == "jpeg_nlm"
    out, _ = run_auto(photo)
    assert psnr(out, clean) > psnr(photo.pixels, clean) + 0.3  # measured 29.84 -> 30.39 dB
    out, report = run_auto(noisy)
    assert report.runs == "denoise (nlm)"
    assert psnr(out, clean) > psnr(noisy, clean) + 4.5  # measured 24.9 -> 31.1 dB


def test_restore_task_auto_on_arrays(clean, noisy):
    u8 = _u8(noisy)
    out = restora.restore(u8)  # auto is the default task
    assert out.dtype == np.uint8 and out.shape == u8.shape
    assert psnr(out / 255.0, clean) > psnr(noisy, clean) + 7.0
    # a clean array comes back unchanged; the input is never mutated
    before = clean.copy()
    assert np.array_equal(restora.restore(clean, task="auto"), clean)
    assert np.array_equal(clean, before)


# --- CLI --------------------------------------------------------------------------------------


def test_cli_without_task_runs_auto_and_explains(jpeg20, noisy_png, clean, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["restore", str(jpeg20), "-o", str(out), "--explain"]) == 0
    err = capsys.readouterr().err
    assert "automatic plan: deblock (deblock_gray)" in err
    assert "JPEG quality 20 from the quantisation tables (below 90)" in err
    assert "No upscale asked" in err
    before = psnr(read_image(jpeg20).pixels, clean)
    assert psnr(read_image(out).pixels, clean) > before + 0.6  # measured 29.84 -> 30.62 dB
    out2 = tmp_path / "out2.png"
    assert main(["restore", str(noisy_png), "-o", str(out2), "--scale", "2", "--explain"]) == 0
    err = capsys.readouterr().err
    assert "denoise (denoise_color) -> upscale (upscale_x2)" in err and "Upscale x2 asked" in err
    assert read_image(out2).pixels.shape == (512, 512, 3)


def test_cli_explicit_method_runs_its_own_task(noisy_png, tmp_path, capsys):
    out = tmp_path / "tv.png"
    assert main(["restore", str(noisy_png), "-o", str(out), "--method", "tv", "--sigma", "15",
                 "--explain"]) == 0
    assert "Ran tv at sigma 15.0 (chosen by the task and the options given)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--kernel", "gauss:2.0"], "takes no kernel"),
        (["--mask", "m.png"], "takes no mask"),
        (["-O", "iterations=5"], "takes no option"),
    ],
)
def test_cli_auto_refuses_what_it_cannot_use(noisy_png, tmp_path, capsys, extra, message):
    out = tmp_path / "o.png"
    assert main(["restore", str(noisy_png), "-o", str(out), "--task", "auto", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "name a task" in err
    assert not out.exists()


def test_auto_errors(noisy):
    with pytest.raises(InvalidParameterError, match="takes no kernel"):
        restora.restore(noisy, kernel="gauss:1.0")
    with pytest.raises(InvalidParameterError, match="quality is a JPEG quality in 1..100"):
        auto.plan(noisy, quality=0)
    with pytest.raises(InvalidParameterError, match="scale must be an integer >= 2"):
        auto.plan(noisy, scale=1)


def test_cli_eval_refuses_auto(tmp_path, capsys):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    assert main(["eval", "--dataset", str(tmp_path)]) == 2
    assert "to evaluate, name the task" in capsys.readouterr().err


# --- the default table and the shipped weights --------------------------------------------------


def test_shipped_default_weights_are_intact_and_chosen():
    from restora.models import load_model
    from restora.weights import DEFAULT_WEIGHTS, find_card, verified_path

    for card in DEFAULT_WEIGHTS:  # every shipped entry: file, card, sha256, contract
        assert card.card.is_file() and find_card(card.name) is card
        assert card.sha256 in card.card.read_text()  # the model card describes this very file
        assert verified_path(card) == card.path
        desc = load_model(card.path)
        assert (desc.task, desc.scale) == (card.task, card.scale)
        assert desc.in_channels == (1 if card.luma else card.channels[0])
    named = {row.weights for row in defaults.DEFAULTS} | {r.weights for r in defaults.DENOISERS.values()}
    assert named - {None} <= {c.name for c in DEFAULT_WEIGHTS}  # the table names shipped sets
    assert defaults.pick("denoise", channels=3).weights == "denoise_color"
    assert defaults.pick("denoise", channels=1).weights == "denoise_gray"
    assert defaults.pick("upscale", channels=3, scale=2).weights == "upscale_x2"
    assert defaults.pick("upscale", channels=1, scale=4).weights == "upscale_x4"
    assert defaults.pick("upscale", channels=3, scale=3).method == "bicubic"
    assert defaults.pick("upscale", channels=3, scale=4, has_kernel=True).method == "pnp"
    assert defaults.pick("deblur", channels=3).method == "pnp"
    assert defaults.describe("deblur", 3) == "pnp + denoise_color"
    with pytest.raises(InvalidParameterError, match="takes images with 1 channel"):
        defaults.pick("demosaic", channels=3)


@pytest.mark.classical_defaults
def test_the_switch_brings_back_the_classical_defaults():
    assert defaults.pick("denoise", channels=3).method == "nlm"
    assert defaults.pick("deblock", channels=3).method == "jpeg_nlm"
    assert defaults.pick("upscale", channels=3, scale=2).method == "bicubic"
    chosen = defaults.pick("deblur", channels=3)
    assert (chosen.method, dict(chosen.options)) == ("pnp", {"denoiser": "tv"})
    assert defaults.describe("inpaint", 1) == "pnp (denoiser tv)"


@pytest.fixture
def fake_denoise_color(tmp_path, monkeypatch):
    """A tiny random RGB DnCNN shipped as ``denoise_color``."""
    import dataclasses

    import torch

    from restora import weights
    from restora.archs import DnCNN
    from restora.io.atomic import file_sha256

    torch.manual_seed(0)
    net = DnCNN(in_channels=3, out_channels=3, num_features=8, depth=3).eval()
    path = tmp_path / "tiny_denoise.pth"
    torch.save(net.state_dict(), path)
    (tmp_path / "tiny_denoise.md").write_text("# tiny test card\n")
    real = weights.find_card("denoise_color")
    card = dataclasses.replace(real, file=path, sha256=file_sha256(path),
                               card_path=tmp_path / "tiny_denoise.md")
    monkeypatch.setattr(weights, "DEFAULT_WEIGHTS",
                        tuple(card if c is real else c for c in weights.DEFAULT_WEIGHTS))
    return path


def test_the_default_for_a_task_is_the_shipped_card(fake_denoise_color, noisy):
    path = fake_denoise_color
    by_model = restora.restore(noisy, model=path, tile=None)
    assert not np.allclose(by_model, restora.restore(noisy, method="nlm", tile=None))
    # the task's default and the automatic mode run the card's file
    assert np.array_equal(restora.restore(noisy, task="denoise", tile=None), by_model)
    assert np.array_equal(run_auto(noisy)[0], by_model)


def test_damaged_default_weights_are_refused_and_missing_ones_fall_back(fake_denoise_color, noisy):
    from restora import weights

    fake_denoise_color.write_bytes(fake_denoise_color.read_bytes() + b"x")
    weights._VERIFIED.clear()
    with pytest.raises(ModelLoadError, match="expected .*reinstall restora"):
        restora.restore(noisy, task="denoise")
    fake_denoise_color.unlink()  # a slim install without the file: the classical fallback
    assert defaults.pick("denoise", channels=3).method == "nlm"
    out = Restorer(Choice(task="denoise")).run(noisy, Params(sigma=15))[1]
    assert out.runs == "nlm"


def test_noise_is_measured_on_luma_for_subsampled_jpegs(noisy, tmp_path):
    """4:2:0 chroma fools the RGB estimator (about 0.6 here); the luma estimate does not."""
    from restora.estimate import estimate_sigma

    path = tmp_path / "noisy95.jpg"
    Image.fromarray(_u8(noisy)).save(path, "JPEG", quality=95, subsampling=2)
    photo = read_image(path)
    assert estimate_sigma(photo.pixels) < 2  # the failure this guards against
    (step,) = auto.plan(photo).steps
    assert step.action == "denoise" and abs(step.sigma - 15) < 1.5  # measured 15.5
