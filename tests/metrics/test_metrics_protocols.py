"""Named protocols: settings, errors, and the paper protocol against published numbers."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from restora.errors import InvalidParameterError
from restora.metrics import (
    PROTOCOLS,
    evaluate_pair,
    get_protocol,
    mean_results,
    psnr,
    ssim,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def test_protocol_names() -> None:
    assert list(PROTOCOLS) == ["paper", "matlab", "rgb"]


@pytest.mark.parametrize(
    ("name", "y", "rounding"),
    [("paper", True, False), ("matlab", True, True), ("rgb", False, False)],
)
def test_upscale_protocols(name: str, y: bool, rounding: bool) -> None:
    p = get_protocol(name, task="upscale", scale=4)
    assert (p.name, p.y_channel, p.crop_border, p.y_rounding) == (name, y, 4, rounding)
    assert "x4" in p.description and "4 px border" in p.description


@pytest.mark.parametrize("name", list(PROTOCOLS))
@pytest.mark.parametrize("task", ["denoise", "deblock", "deblur"])
def test_other_tasks_use_all_channels_no_crop(name: str, task: str) -> None:
    p = get_protocol(name, task=task)
    assert (p.y_channel, p.crop_border, p.y_rounding) == (False, 0, False)
    assert task in p.description


def test_protocol_is_frozen() -> None:
    p = get_protocol("paper", task="upscale", scale=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.crop_border = 0  # type: ignore[misc]


def test_get_protocol_errors() -> None:
    with pytest.raises(
        InvalidParameterError,
        match="unknown metric protocol 'bsd'; expected one of: paper, matlab, rgb",
    ):
        get_protocol("bsd", task="upscale", scale=4)
    with pytest.raises(
        InvalidParameterError,
        match="unknown task 'sr'.*denoise, deblock, deblur, upscale",
    ):
        get_protocol("paper", task="sr", scale=4)
    with pytest.raises(
        InvalidParameterError, match="scale must be a positive integer.*got 0"
    ):
        get_protocol("paper", task="upscale", scale=0)
    with pytest.raises(
        InvalidParameterError, match="scale must be a positive integer.*got 2.5"
    ):
        get_protocol("paper", task="upscale", scale=2.5)  # type: ignore[arg-type]
    with pytest.raises(
        InvalidParameterError, match="scale=2 only applies to task 'upscale'"
    ):
        get_protocol("paper", task="denoise", scale=2)


def test_evaluate_pair_applies_the_protocol() -> None:
    rng = np.random.default_rng(0)
    ref = rng.random((40, 40, 3))
    test = np.clip(ref + rng.normal(0, 0.03, ref.shape), 0, 1)
    for name in PROTOCOLS:
        p = get_protocol(name, task="upscale", scale=3)
        out = evaluate_pair(ref, test, p)
        opts = {"crop_border": 3, "y_channel": p.y_channel, "y_rounding": p.y_rounding}
        assert out == {"psnr": psnr(ref, test, **opts), "ssim": ssim(ref, test, **opts)}
    paper = evaluate_pair(ref, test, get_protocol("paper", task="upscale", scale=3))
    rgb = evaluate_pair(ref, test, get_protocol("rgb", task="upscale", scale=3))
    assert paper["psnr"] != rgb["psnr"]
    with pytest.raises(
        InvalidParameterError, match="protocol must be a Protocol.*got str"
    ):
        evaluate_pair(ref, test, "paper")  # type: ignore[arg-type]


def test_mean_results() -> None:
    rows = [{"psnr": 30.0, "ssim": 0.8}, {"psnr": 32.0, "ssim": 0.9}]
    assert mean_results(rows) == pytest.approx({"psnr": 31.0, "ssim": 0.85})
    assert mean_results([{"psnr": math.inf}, {"psnr": 30.0}])["psnr"] == math.inf
    with pytest.raises(InvalidParameterError, match="empty list"):
        mean_results([])
    with pytest.raises(
        InvalidParameterError,
        match=r"result 1 has keys \['psnr'\], but result 0 has \['psnr', 'ssim'\]",
    ):
        mean_results([{"psnr": 1.0, "ssim": 0.5}, {"psnr": 2.0}])


@pytest.mark.shared
def test_paper_protocol_reproduces_published_bicubic_set5_x4() -> None:
    """Bicubic x4 on Set5 (MATLAB imresize LR from SelfExSR, MATLAB bicubic up): 28.42 dB / 0.8104.

    Published (e.g. RCAN/SwinIR tables, ../shared/reference/published.md): 28.42 dB Y-PSNR.
    "rgb" or no crop would land far away (> 0.5 dB); "matlab" is 0.01 dB lower.
    """
    if not (SHARED / "set5").is_dir():
        pytest.skip("../shared/datasets not present")
    from PIL import Image

    from restora.degrade import imresize

    rows = {"paper": [], "matlab": [], "rgb": []}
    for hr_path in sorted((SHARED / "set5").glob("*.png")):
        hr = np.asarray(Image.open(hr_path))
        h, w = hr.shape[:2]
        hr = hr[: h - h % 4, : w - w % 4]
        lr = np.asarray(
            Image.open(SHARED / "sr_lr_bicubic" / "set5" / "x4" / hr_path.name)
        )
        sr = imresize(lr, 4)  # uint8 in -> uint8 out, as MATLAB
        for name, results in rows.items():
            results.append(
                evaluate_pair(hr, sr, get_protocol(name, task="upscale", scale=4))
            )
    paper = mean_results(rows["paper"])
    assert paper["psnr"] == pytest.approx(28.42, abs=0.015)
    assert paper["ssim"] == pytest.approx(0.8104, abs=0.001)
    assert mean_results(rows["matlab"])["psnr"] == pytest.approx(28.42, abs=0.005)
    assert mean_results(rows["rgb"])["psnr"] < 28.42 - 0.5
