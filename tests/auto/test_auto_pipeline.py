"""The automatic pipeline: plans (what and why), PSNR gains, CLI --explain, default weights."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import restora
from restora import auto
from restora.cli import main
from restora.errors import InvalidParameterError, ModelLoadError
from restora.io import read_image


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
    assert (step.action, step.task, step.method, step.model) == ("denoise", "denoise", "nlm", None)
    assert abs(step.sigma - 15) < 1.5  # true sigma 15 (clipped a little at 0/255)
    assert step.sigma == plan.detected["noise_sigma"]
    assert f"Estimated noise level sigma = {step.sigma:.1f}" in step.reason
    assert "denoised with nlm" in step.reason


def test_low_quality_jpeg_is_deblocked(jpeg20):
    plan = auto.plan(read_image(jpeg20))
    (step,) = plan.steps
    assert step.action == "deblock" and step.quality == 20 and step.method == "nlm"
    assert step.sigma == auto.jpeg_sigma(20)
    assert "JPEG quality 20 from the quantisation tables" in step.reason
    assert "no learned deblocker" in step.reason
    assert plan.detected["jpeg_quality"] == 20


def test_high_quality_jpeg_is_not_deblocked(clean, tmp_path):
    path = tmp_path / "hq.jpg"
    Image.fromarray(_u8(clean)).save(path, "JPEG", quality=95)
    plan = auto.plan(read_image(path))
    assert plan.steps == ()
    assert "JPEG quality 95" in plan.summary and "no deblocking" in plan.summary


def test_noisy_jpeg_merges_deblock_and_denoise(noisy, tmp_path):
    path = tmp_path / "noisy.jpg"
    Image.fromarray(_u8(noisy)).save(path, "JPEG", quality=70)
    plan = auto.plan(read_image(path))
    (step,) = plan.steps  # one nlm pass at the larger of the two sigmas
    assert step.action == "deblock" and step.sigma == plan.detected["noise_sigma"]
    assert step.sigma > auto.jpeg_sigma(70) and "in one pass" in step.reason


def test_scale_adds_an_upscale_step(noisy_png):
    photo = read_image(noisy_png)
    plan = auto.plan(photo, scale=2)
    assert [s.action for s in plan.steps] == ["denoise", "upscale"]
    assert plan.steps[-1].method == "bicubic" and plan.steps[-1].scale == 2
    assert "Upscale x2 asked" in plan.summary
    pixels = auto.run_plan(plan, photo, auto.RunOptions(tile=None))
    assert pixels.shape == (512, 512, 3)
    assert "No upscale asked" in auto.plan(photo).summary


def test_arrays_have_no_jpeg_quality_unless_given(clean):
    plan = auto.plan(clean)
    assert plan.steps == () and "An array has no JPEG tables" in plan.summary
    plan = auto.plan(clean, quality=30)
    assert plan.steps[0].action == "deblock" and "JPEG quality 30 given" in plan.steps[0].reason


def test_jpeg_sigma_rule_is_monotone_and_interpolated():
    qs, sigmas = auto.JPEG_SIGMA_RULE
    assert list(qs) == sorted(qs) and list(sigmas) == sorted(sigmas, reverse=True)
    assert auto.jpeg_sigma(qs[0]) == sigmas[0] and auto.jpeg_sigma(1) == sigmas[0]
    mid = (qs[2] + qs[3]) / 2
    assert auto.jpeg_sigma(mid) == pytest.approx((sigmas[2] + sigmas[3]) / 2)


# --- running --------------------------------------------------------------------------------


def test_auto_raises_psnr_on_noise(clean, noisy):
    out, plan = auto.run(noisy)
    assert plan.steps[0].action == "denoise"
    assert psnr(out, clean) > psnr(noisy, clean) + 4.5  # measured 24.9 -> 31.1 dB
    assert out.dtype == np.float32 and out.shape == noisy.shape


def test_auto_raises_psnr_on_a_q20_jpeg(clean, jpeg20):
    photo = read_image(jpeg20)
    out, plan = auto.run(photo)
    assert plan.steps[0].action == "deblock"
    assert psnr(out, clean) > psnr(photo.pixels, clean) + 0.3  # measured 29.84 -> 30.39 dB


def test_restore_task_auto_on_arrays(clean, noisy):
    u8 = _u8(noisy)
    out = restora.restore(u8, task="auto")
    assert out.dtype == np.uint8 and out.shape == u8.shape
    assert psnr(out / 255.0, clean) > psnr(noisy, clean) + 4.5
    # a clean array comes back unchanged; the input is never mutated
    before = clean.copy()
    assert np.array_equal(restora.restore(clean, task="auto"), clean)
    assert np.array_equal(clean, before)


def test_explain_prints_to_stderr(noisy, capsys):
    auto.run(noisy, explain=True)
    err = capsys.readouterr().err
    assert "automatic plan: denoise (nlm)" in err and "Estimated noise level sigma" in err


# --- CLI --------------------------------------------------------------------------------------


def test_cli_without_task_runs_auto_and_explains(jpeg20, noisy_png, clean, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["restore", str(jpeg20), "-o", str(out), "--explain"]) == 0
    err = capsys.readouterr().err
    assert "automatic plan: deblock (nlm)" in err
    assert "JPEG quality 20 from the quantisation tables (below 90)" in err
    assert "No upscale asked" in err
    before = psnr(read_image(jpeg20).pixels, clean)
    assert psnr(read_image(out).pixels, clean) > before + 0.3
    out2 = tmp_path / "out2.png"
    assert main(["restore", str(noisy_png), "-o", str(out2), "--scale", "2", "--explain"]) == 0
    err = capsys.readouterr().err
    assert "denoise (nlm) -> upscale (bicubic)" in err and "Upscale x2 asked" in err
    assert read_image(out2).pixels.shape == (512, 512, 3)


def test_cli_explicit_method_still_works_without_task(noisy_png, tmp_path, capsys):
    out = tmp_path / "tv.png"
    assert main(["restore", str(noisy_png), "-o", str(out), "--method", "tv", "--sigma", "15",
                 "--explain"]) == 0
    assert "nothing decided automatically" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "nlm"], "takes no method"),
        (["--kernel", "gauss:2.0"], "takes no kernel"),
        (["--method", "tv", "--kernel", "gauss:1.0"], "takes no method or kernel"),
    ],
)
def test_cli_auto_refuses_choices_it_makes_itself(noisy_png, tmp_path, capsys, extra, message):
    out = tmp_path / "o.png"
    assert main(["restore", str(noisy_png), "-o", str(out), "--task", "auto", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "--task denoise" in err
    assert not out.exists()


def test_api_auto_errors(noisy, tmp_path):
    with pytest.raises(InvalidParameterError, match="takes no model"):
        restora.restore(noisy, task="auto", model=tmp_path / "w.safetensors")
    with pytest.raises(InvalidParameterError, match="chooses its methods per image"):
        restora.api.resolve_method(None, task="auto")
    with pytest.raises(InvalidParameterError, match="quality is a JPEG quality in 1..100"):
        auto.plan(noisy, quality=0)
    with pytest.raises(InvalidParameterError, match="scale must be an integer >= 2"):
        auto.plan(noisy, scale=1)


def test_cli_eval_refuses_auto(tmp_path, capsys):
    assert main(["eval", "--dataset", str(tmp_path), "--task", "auto"]) == 2
    assert "chooses its methods per image" in capsys.readouterr().err


# --- default weights --------------------------------------------------------------------------


@pytest.mark.default_weights
def test_shipped_default_weights_are_intact_and_chosen():
    from restora.weights import DEFAULT_WEIGHTS, default_model, find_card
    from restora.models import load_model

    for card in DEFAULT_WEIGHTS:  # every shipped entry: file, card, sha256, contract
        assert card.card.is_file() and find_card(card.name) is card
        assert card.sha256 in card.card.read_text()  # the model card describes this very file
        if card.default:
            assert default_model(card.task, channels=card.channels[-1], scale=card.scale) == card.path
        desc = load_model(card.path)
        assert (desc.task, desc.scale) == (card.task, card.scale)
        assert desc.in_channels == (1 if card.luma else card.channels[0])
    assert default_model("deblur") is None


@pytest.fixture
def fake_default_denoiser(tmp_path, monkeypatch):
    """A tiny random RGB DnCNN registered as the shipped default denoiser."""
    import torch

    from restora import weights
    from restora.archs import DnCNN
    from restora.models.loading import sha256_file

    torch.manual_seed(0)
    net = DnCNN(in_channels=3, out_channels=3, num_features=8, depth=3).eval()
    path = tmp_path / "tiny_denoise.pth"
    torch.save(net.state_dict(), path)
    (tmp_path / "tiny_denoise.md").write_text("# tiny test card\n")
    card = weights.WeightCard(name="tiny_denoise", task="denoise", file=path,
                              sha256=sha256_file(path), card_path=tmp_path / "tiny_denoise.md",
                              channels=(3,))
    monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", (card,))
    return path


@pytest.mark.default_weights
def test_default_weights_switch(fake_default_denoiser, noisy):
    path = fake_default_denoiser
    plan = auto.plan(noisy)
    (step,) = plan.steps
    assert step.model == path and step.method is None and step.runs == "tiny_denoise.pth"
    assert "denoised with tiny_denoise.pth" in step.reason
    by_model = restora.restore(noisy, model=path, tile=None)
    assert not np.allclose(by_model, restora.restore(noisy, method="nlm", tile=None))
    # restore(task=..., method=None), the automatic pipeline: the shipped weights
    assert np.array_equal(restora.restore(noisy, task="denoise", tile=None), by_model)
    assert np.array_equal(auto.run(noisy, options=auto.RunOptions(tile=None))[0], by_model)
    # a gray image is not what the weights take: classical fallback
    gray_plan = auto.plan(noisy[..., :1])
    assert gray_plan.steps[0].method == "nlm" and gray_plan.steps[0].model is None


@pytest.mark.default_weights
def test_damaged_default_weights_are_refused(fake_default_denoiser, noisy):
    from restora import weights

    fake_default_denoiser.write_bytes(fake_default_denoiser.read_bytes() + b"x")
    weights._VERIFIED.clear()
    with pytest.raises(ModelLoadError, match="expected .*reinstall restora"):
        restora.restore(noisy, task="denoise")
    fake_default_denoiser.unlink()
    with pytest.raises(ModelLoadError, match="tiny_denoise.pth is missing"):
        weights.default_model("denoise")


def test_noise_is_measured_on_luma_for_subsampled_jpegs(noisy, tmp_path):
    """4:2:0 chroma fools the RGB estimator (about 0.6 here); the luma estimate does not."""
    from restora.methods.noise_level import estimate_sigma

    path = tmp_path / "noisy95.jpg"
    Image.fromarray(_u8(noisy)).save(path, "JPEG", quality=95, subsampling=2)
    photo = read_image(path)
    assert estimate_sigma(photo.pixels) < 2  # the failure this guards against
    (step,) = auto.plan(photo).steps
    assert step.action == "denoise" and abs(step.sigma - 15) < 1.5  # measured 15.5


@pytest.mark.default_weights
def test_shipped_weights_run_in_the_automatic_mode(noisy_png, jpeg20, monkeypatch):
    noisy_plan = auto.plan(read_image(noisy_png))
    (step,) = noisy_plan.steps
    assert step.method is None and step.model.name == "denoise_color.safetensors"
    assert "denoised with denoise_color.safetensors" in step.reason
    (step,) = auto.plan(read_image(jpeg20)).steps
    assert step.task == "deblock" and step.model.name == "deblock_gray.safetensors"
    # the switch brings back the classical defaults
    monkeypatch.setenv("RESTORA_DEFAULT_WEIGHTS", "off")
    (step,) = auto.plan(read_image(noisy_png)).steps
    assert (step.method, step.model) == ("nlm", None)
