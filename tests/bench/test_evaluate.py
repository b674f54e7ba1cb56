"""The evaluation harness: protocols, seeding, published numbers, JSON shape, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from restora.bench import evaluate
from restora.errors import DatasetError, InvalidParameterError
from restora.methods.registry import MethodInfo
from tests.conftest import shared_dataset


def _identity(image: np.ndarray, *, sigma: float | None = None) -> np.ndarray:
    return image


IDENTITY = MethodInfo(name="identity", task="denoise", fn=_identity, description="no-op",
                      needs_sigma=True, options=("sigma",))


@pytest.fixture
def gray_folder(tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((64, 96), 128, np.uint8)).save(folder / f"img{i}.png")
    return folder


def test_denoise_protocol_noise_level_matches_theory(gray_folder):
    # Identity on mid-gray: PSNR = 10 log10(255^2 / (sigma^2 + 1/12)) (rounding adds 1/12).
    result = evaluate(IDENTITY, gray_folder, task="denoise", sigma=10)
    expected = 10 * np.log10(255.0**2 / (10.0**2 + 1 / 12))
    assert result.mean_psnr == pytest.approx(expected, abs=0.15)
    assert len(result.images) == 3
    # Seeded per image: same seed -> same numbers; images get different noise.
    again = evaluate(IDENTITY, gray_folder, task="denoise", sigma=10)
    assert [s.psnr for s in again.images] == [s.psnr for s in result.images]
    assert len({s.psnr for s in result.images}) == 3
    other = evaluate(IDENTITY, gray_folder, task="denoise", sigma=10, seed=5)
    assert other.images[0].psnr != result.images[0].psnr


def test_json_shape_is_stable(gray_folder, tmp_path):
    result = evaluate(IDENTITY, gray_folder, task="denoise", sigma=25)
    path = result.to_json(tmp_path / "r.json")
    data = json.loads(path.read_text())
    assert set(data["mean"]) == {"psnr", "ssim", "sec_per_mp"}
    assert data["mean"]["psnr"] == pytest.approx(result.mean_psnr)
    assert [i["name"] for i in data["images"]] == ["img0", "img1", "img2"]
    assert data["protocol"] == "paper" and data["task"] == "denoise" and data["level"] == 25


def test_published_numbers_attached_for_known_dataset(tmp_path):
    folder = tmp_path / "bsd68_gray"
    folder.mkdir()
    Image.fromarray(np.full((32, 32), 100, np.uint8)).save(folder / "a.png")
    result = evaluate(IDENTITY, folder, task="denoise", sigma=25)
    assert result.published["DnCNN"] == 29.23 and result.published["BM3D"] == 28.57
    assert "| DnCNN | 29.23 |" in result.to_markdown()


def test_dataset_errors_name_the_folder(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        evaluate(IDENTITY, tmp_path / "missing", task="denoise", sigma=25)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        evaluate(IDENTITY, tmp_path / "empty", task="denoise", sigma=25)


def test_missing_level_is_a_clear_error(gray_folder):
    with pytest.raises(InvalidParameterError, match="needs sigma"):
        evaluate(IDENTITY, gray_folder, task="denoise")


@pytest.mark.parametrize("protocol", ["paper", "matlab"])
@pytest.mark.parametrize("scale,published", [(2, 33.66), (3, 30.39), (4, 28.42)])
def test_bicubic_set5_reproduces_published_y_psnr(scale, published, protocol):
    """MATLAB bicubic down + up and BT.601 Y PSNR with crop = scale (resize + metric together)."""
    result = evaluate("bicubic", shared_dataset("set5"), task="upscale", scale=scale,
                      protocol=protocol)
    assert result.mean_psnr == pytest.approx(published, abs=0.02)
    assert result.published["bicubic"] == published


def test_unreadable_dataset_files_are_skipped_counted_and_keep_the_seeds(gray_folder, tmp_path):
    whole = evaluate(IDENTITY, gray_folder, task="denoise", sigma=25)
    (gray_folder / "img1.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.warns(UserWarning, match="img1.png: skipped"):
        result = evaluate(IDENTITY, gray_folder, task="denoise", sigma=25)
    assert [s.name for s in result.images] == ["img0", "img2"]
    assert list(result.skipped) == ["img1.png"]
    # image i keeps seed + i: the two readable images score exactly as before
    assert [s.psnr for s in result.images] == [whole.images[0].psnr, whole.images[2].psnr]
    assert "skipped 1 unreadable file(s)" in result.to_markdown()
    assert result.to_dict()["skipped"] == result.skipped
    for name in ("img0.png", "img2.png"):
        (gray_folder / name).write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="no readable images"):
        with pytest.warns(UserWarning):
            evaluate(IDENTITY, gray_folder, task="denoise", sigma=25)
