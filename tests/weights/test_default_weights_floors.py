"""PSNR floors of the shipped default weights on the standard test sets (paper protocols).

Each floor is the published classical / baseline number the issue asks us to beat, and the
value measured when the weights were shipped (docs/benchmarks.md, the model cards) minus a
small margin for BLAS differences between machines. Skips without ../shared/datasets.
"""

from __future__ import annotations

import pytest

from restora.bench import evaluate
from restora.weights import find_card
from tests.conftest import shared_dataset

# (card, dataset, evaluate() options, floor to beat (published baseline), measured at ship time)
FLOORS = [
    ("denoise_gray", "bsd68_gray", {"task": "denoise", "sigma": 25}, ("BM3D", 28.57), 29.20),
    ("denoise_color", "cbsd68", {"task": "denoise", "sigma": 25}, ("CBM3D", 30.71), 31.25),
    ("deblock_gray", "classic5", {"task": "deblock", "quality": 10}, ("JPEG q10 input (27.82) + 0.9 dB", 28.72), 29.42),
    ("upscale_x4", "set5", {"task": "upscale", "scale": 4}, ("SRCNN", 30.48), 31.47),
    ("upscale_x2", "set5", {"task": "upscale", "scale": 2}, ("bicubic + 2.5 dB", 36.16), 37.56),
]


@pytest.mark.parametrize(("card", "dataset", "options", "floor", "measured"), FLOORS,
                         ids=[f[0] for f in FLOORS])
def test_default_weights_beat_their_floor(card, dataset, options, floor, measured):
    if find_card(card) is None:
        pytest.skip(f"{card} is not shipped")
    folder = shared_dataset(dataset)
    result = evaluate(None, folder, **options)  # no method, no model: the shipped default
    assert result.method == card  # the shipped set, named as `restora methods` lists it
    name, value = floor
    assert result.mean_psnr > value, f"{card}: {result.mean_psnr:.3f} dB is not above {name} {value}"
    if measured is not None:
        assert result.mean_psnr == pytest.approx(measured, abs=0.03)


def test_cli_eval_without_method_picks_the_default_for_the_dataset(tmp_path):
    """Colour images get the colour denoiser, gray ones the gray one (CLI path)."""
    import numpy as np
    from typer.testing import CliRunner

    from restora.cli import app
    from restora.io import write_image

    rng = np.random.default_rng(0)
    for kind, shape in (("rgb", (40, 40, 3)), ("gray", (40, 40))):
        folder = tmp_path / kind
        folder.mkdir()
        write_image(rng.integers(0, 256, shape, dtype=np.uint8), folder / "a.png")
        out = CliRunner().invoke(app, ["eval", "--dataset", str(folder), "--task", "denoise", "--sigma", "25"])
        assert out.exit_code == 0, out.output
        expected = "denoise_color" if kind == "rgb" else "denoise_gray"
        assert f"{expected} on {kind}" in out.output
