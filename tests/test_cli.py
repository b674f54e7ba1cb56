"""The CLI: each command end to end on files the test makes; user errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from restora.cli import main


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


@pytest.fixture
def noisy_pair(tmp_path):
    from skimage import data

    clean = data.astronaut()[128:384, 128:384]
    rng = np.random.default_rng(1)
    noisy = np.clip(np.rint(clean + rng.normal(0, 20, clean.shape)), 0, 255).astype(np.uint8)
    path = tmp_path / "noisy.png"
    Image.fromarray(noisy).save(path)
    return clean, noisy, path


def test_restore_denoises_with_estimated_sigma(noisy_pair, tmp_path, capsys):
    clean, noisy, path = noisy_pair
    out = tmp_path / "out.png"
    assert main(["restore", str(path), "-o", str(out), "--method", "nlm"]) == 0
    restored = np.asarray(Image.open(out))
    assert restored.shape == clean.shape
    assert _psnr(clean, restored) > _psnr(clean, noisy) + 4.0


def test_restore_tiled_equals_method_contract(noisy_pair, tmp_path):
    _, _, path = noisy_pair
    out = tmp_path / "up.png"
    assert main(["restore", str(path), "-o", str(out), "--task", "upscale", "--scale", "2",
                 "--method", "bicubic", "--tile", "96", "--overlap", "16"]) == 0
    assert Image.open(out).size == (512, 512)


def test_several_inputs_go_to_a_folder(noisy_pair, tmp_path):
    _, noisy, path = noisy_pair
    second = tmp_path / "second.png"
    Image.fromarray(noisy[:64, :64]).save(second)
    folder = tmp_path / "outdir"
    assert main(["restore", str(path), str(second), "-o", str(folder), "--sigma", "20"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["noisy.png", "second.png"]


def test_missing_input_is_one_line_and_no_output(tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["restore", str(tmp_path / "nope.png"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "nope.png" in err and "Traceback" not in err
    assert not out.exists()


def test_output_equal_to_input_is_refused(noisy_pair, capsys):
    _, _, path = noisy_pair
    before = path.read_bytes()
    assert main(["restore", str(path), "-o", str(path)]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_unknown_method_lists_the_registered_ones(noisy_pair, tmp_path, capsys):
    _, _, path = noisy_pair
    assert main(["restore", str(path), "-o", str(tmp_path / "o.png"), "--method", "magic"]) == 2
    err = capsys.readouterr().err
    assert "magic" in err and "nlm" in err
    assert not (tmp_path / "o.png").exists()


def test_upscale_without_scale_says_so(noisy_pair, tmp_path, capsys):
    _, _, path = noisy_pair
    assert main(["restore", str(path), "-o", str(tmp_path / "o.png"), "--task", "upscale"]) == 2
    assert "scale" in capsys.readouterr().err


def test_methods_table_lists_classical_methods(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in ("nlm", "tv", "wavelet", "bicubic", "lanczos", "wiener", "richardson_lucy"):
        assert name in out


def test_info_reports_size_and_noise(noisy_pair, capsys):
    _, _, path = noisy_pair
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "256" in out and "noise" in out


def test_eval_json_matches_python_api(tmp_path, capsys):
    from restora.bench import evaluate

    folder = tmp_path / "set"
    folder.mkdir()
    from skimage import data

    Image.fromarray(data.camera()[:128, :128]).save(folder / "cam.png")
    report = tmp_path / "r.json"
    assert main(["eval", "--method", "wavelet", "--dataset", str(folder), "--sigma", "25",
                 "--json", str(report)]) == 0
    data_json = json.loads(report.read_text())
    api = evaluate("wavelet", folder, task="denoise", sigma=25)
    assert data_json["mean"]["psnr"] == pytest.approx(api.mean_psnr, abs=1e-9)
    assert "wavelet on set" in capsys.readouterr().out


def test_installed_entry_point_exit_code(tmp_path):
    """The console script prints one error line (no traceback) and exits 2."""
    proc = subprocess.run([sys.executable, "-m", "restora.cli", "info", str(tmp_path / "x.png")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "x.png" in proc.stderr


def test_info_on_a_noisy_subsampled_jpeg_reports_quality_and_noise(tmp_path, capsys):
    """4:2:0 chroma hides most colour noise; info must still read the noise on luma."""
    from skimage import data

    clean = data.astronaut()[:256, :256].astype(np.float64)
    noisy = np.clip(np.rint(clean + np.random.default_rng(0).normal(0, 15, clean.shape)), 0, 255)
    path = tmp_path / "noisy.jpg"
    Image.fromarray(noisy.astype(np.uint8)).save(path, quality=95, subsampling=2)
    assert main(["info", str(path)]) == 0
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in capsys.readouterr().out.splitlines() if line.count("│") == 3}
    assert rows["JPEG quality (from quantisation tables)"] == "95"
    assert abs(float(rows["estimated noise sigma (8-bit units)"]) - 15) < 2.0


def test_max_pixels_option_refuses_big_images(noisy_pair, tmp_path, capsys):
    _, _, path = noisy_pair  # 256x256 = 65536 pixels
    out = tmp_path / "o.png"
    assert main(["restore", str(path), "-o", str(out), "--max-pixels", "60000"]) == 2
    err = capsys.readouterr().err
    assert "noisy.png" in err and "decompression bomb" in err and "limit" in err
    assert not out.exists()


def test_method_option_reaches_the_method(noisy_pair, tmp_path):
    """-O iterations=N gives exactly the API call with that option (and differs from another N)."""
    from restora.methods import get_method

    clean, _, _ = noisy_pair
    blurred = tmp_path / "blurred.png"
    from restora.degrade import gaussian_kernel
    from restora.degrade.operators import BlurOperator

    kernel = gaussian_kernel(1.5)
    b = BlurOperator(kernel).A(clean[:96, :96].astype(np.float64) / 255)
    Image.fromarray(np.rint(b * 255).astype(np.uint8)).save(blurred)
    outs = {}
    for n in (2, 12):
        out = tmp_path / f"rl{n}.png"
        assert main(["restore", str(blurred), "-o", str(out), "--task", "deblur", "--method",
                     "richardson_lucy", "--kernel", "gauss:1.5", "--tile", "0", "-O", f"iterations={n}"]) == 0
        outs[n] = np.asarray(Image.open(out))
        ref = get_method("richardson_lucy")(np.asarray(Image.open(blurred), np.float32) / 255,
                                            kernel=kernel, iterations=n)
        assert np.abs(outs[n].astype(int) - np.rint(np.clip(ref, 0, 1) * 255)).max() <= 1
    assert np.abs(outs[12].astype(int) - outs[2].astype(int)).mean() > 1  # the option changed the result


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["-O", "iterations"], "expected KEY=VALUE"),
        (["-O", "strength=3"], "give strength as its own option (--strength"),
        (["-O", "depth=3"], "has no option depth; its own options are: iterations"),
        (["-O", "sigma=3"], "give sigma as its own option"),
    ],
)
def test_bad_method_option_is_one_clear_line_and_no_output(noisy_pair, tmp_path, capsys, options, message):
    _, _, path = noisy_pair
    out = tmp_path / "out.png"
    code = main(["restore", str(path), "-o", str(out), "--task", "deblur", "--method", "richardson_lucy",
                 "--kernel", "gauss:1.5", *options])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err
    assert not out.exists()


def test_methods_table_shows_own_options(capsys):
    assert main(["methods"]) == 0
    text = capsys.readouterr().out
    assert "own options" in text and "iterations" in text


def test_eval_passes_method_options(tmp_path, capsys):
    """restora eval -O iterations=N scores the method with that option (Python API equality)."""
    from restora.bench import evaluate

    folder = tmp_path / "set"
    folder.mkdir()
    from skimage import data

    Image.fromarray(data.astronaut()[100:164, 200:264]).save(folder / "a.png")
    out = tmp_path / "r.json"
    assert main(["eval", "--method", "richardson_lucy", "--task", "deblur", "--kernel", "gauss:1.2", "--sigma", "1",
                 "--dataset", str(folder), "-O", "iterations=3", "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    ref3 = evaluate("richardson_lucy", folder, task="deblur", kernel="gauss:1.2", sigma=1, options={"iterations": 3})
    ref30 = evaluate("richardson_lucy", folder, task="deblur", kernel="gauss:1.2", sigma=1)
    assert got["mean"]["psnr"] == pytest.approx(ref3.mean_psnr, abs=1e-9)
    assert abs(ref3.mean_psnr - ref30.mean_psnr) > 0.1


# --- what the one-runner issue found broken, each end to end ----------------------------------


def test_the_paths_that_failed_before_the_one_runner(noisy_pair, tmp_path, capsys):
    """Colour photo with --task denoise (the gray model was picked), batch upscaling with a
    scale ('give scale'), batch in the automatic mode (refused), deblocking with --quality
    (refused): all run now, with the same options as `restora restore`."""
    clean, _, path = noisy_pair
    assert main(["restore", str(path), "-o", str(tmp_path / "d.png"), "--task", "denoise"]) == 0
    restored = np.asarray(Image.open(tmp_path / "d.png"))
    assert restored.shape == clean.shape and _psnr(clean, restored) > 30  # denoise_color
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(clean[:64, :64]).save(folder / "a.png")
    assert main(["batch", str(folder), str(tmp_path / "up"), "--task", "upscale", "--scale", "2",
                 "--method", "bicubic", "--workers", "1"]) == 0
    assert Image.open(tmp_path / "up" / "a.png").size == (128, 128)
    assert main(["batch", str(folder), str(tmp_path / "auto"), "--task", "auto", "--workers", "1"]) == 0
    jpeg = tmp_path / "q30.jpg"
    Image.fromarray(clean).save(jpeg, quality=30)
    for extra in ([], ["--method", "jpeg_nlm"]):
        out = tmp_path / f"deblocked{len(extra)}.png"
        assert main(["restore", str(jpeg), "-o", str(out), "--task", "deblock", "--quality", "30",
                     *extra]) == 0
        assert _psnr(clean, np.asarray(Image.open(out))) > _psnr(clean, np.asarray(Image.open(jpeg)))


def test_a_parameter_the_method_does_not_take_is_one_error_line(noisy_pair, tmp_path, capsys):
    _, _, path = noisy_pair
    out = tmp_path / "o.png"
    assert main(["restore", str(path), "-o", str(out), "--task", "denoise", "--kernel", "gauss:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "takes no blur kernel; drop --kernel" in err
    assert main(["restore", str(path), "-o", str(out), "--task", "denoise", "-O", "steps=3"]) == 2
    assert "has no option steps; its own options are: none" in capsys.readouterr().err
    assert main(["restore", str(path), "-o", str(out), "--task", "deblur", "--kernel",
                 "gauss:3000"]) == 2
    assert "larger than the 255x255 restora accepts" in capsys.readouterr().err
    assert not out.exists()


def test_the_readme_main_command_runs_and_can_run_again(tmp_path, monkeypatch):
    """The README's first command: the automatic mode on the bundled example (twice, as a
    user re-running it does; --overwrite replaces the first result)."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    text = (repo / "README.md").read_text()
    command = re.search(r"<!-- main-command -->\s*```bash\n(.*?)\n```", text, re.S).group(1)
    args = command.split("&& restora ", 1)[1].split()
    monkeypatch.chdir(repo)
    target = tmp_path / "restored.png"
    args[args.index("-o") + 1] = str(target)
    for _ in range(2):
        assert main(args) == 0
    assert Image.open(target).size == Image.open(repo / "examples" / "astronaut_noisy.png").size


def test_library_warnings_stay_out_of_the_error_line(noisy_pair, tmp_path):
    """In a real process (pytest would swallow the warning itself): a decoder's warning does
    not print above the one error line."""
    _, _, path = noisy_pair
    script = f"""
import warnings, restora.run, restora.cli
real = restora.run.read_image
def noisy(path, **kw):
    warnings.warn("Possibly corrupt EXIF data", UserWarning)  # as Pillow does
    return real(path, **kw)
restora.run.read_image = noisy
raise SystemExit(restora.cli.main(["restore", {str(path)!r}, "-o", {str(tmp_path / "o.png")!r},
                                   "--task", "upscale"]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 2
    assert "EXIF" not in out.stderr and out.stderr.startswith("error:")
    assert out.stderr.count("\n") == 1


def test_inpaint_and_demosaic_inputs_that_do_not_fit(noisy_pair, tmp_path, capsys):
    _, _, path = noisy_pair  # 256x256 RGB
    mask = tmp_path / "mask.png"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(mask)
    out = tmp_path / "o.png"
    assert main(["restore", str(path), "-o", str(out), "--task", "inpaint", "--mask", str(mask)]) == 2
    err = capsys.readouterr().err
    assert "the mask is 32x32 pixels but the image is 256x256" in err and err.count("\n") == 1
    assert main(["restore", str(path), "-o", str(out), "--task", "inpaint"]) == 2
    assert "inpainting needs a mask" in capsys.readouterr().err
    assert main(["restore", str(path), "-o", str(out), "--task", "demosaic"]) == 2
    assert "task 'demosaic' takes images with 1 channel(s); this image has 3" in capsys.readouterr().err
    assert not out.exists()
