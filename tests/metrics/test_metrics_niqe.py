"""NIQE against an independent implementation (basicsr 1.4.2) and its expected behaviour."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from restora.errors import InvalidParameterError, MissingDataError, ShapeError
from restora.metrics import niqe
from restora.metrics.niqe import PARAMS_ENV, load_pristine_model

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "datasets"
REFERENCE = REPO / "benchmarks" / "niqe_reference_values.json"


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()  # 512x512 RGB uint8, public domain


PARAMS = SHARED / "iqa_models" / "niqe_pris_params.npz"


@pytest.fixture(autouse=True)
def pristine_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point $RESTORA_NIQE_PARAMS at ../shared's copy; skip when absent (it is not bundled)."""
    if request.node.get_closest_marker("no_params"):
        monkeypatch.delenv(PARAMS_ENV, raising=False)
        return
    if not PARAMS.is_file():
        pytest.skip("../shared/datasets/iqa_models/niqe_pris_params.npz not present")
    monkeypatch.setenv(PARAMS_ENV, str(PARAMS))


def test_pristine_model_is_the_published_one() -> None:
    digest = hashlib.sha256(PARAMS.read_bytes()).hexdigest()
    assert digest == "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"
    mu, cov, window = load_pristine_model()
    assert mu.shape == (36,) and cov.shape == (36, 36) and window.shape == (7, 7)
    assert window.sum() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.no_params
def test_missing_model_says_where_to_get_it() -> None:
    with pytest.raises(MissingDataError, match="RESTORA_NIQE_PARAMS"):
        niqe(np.zeros((200, 200)))


@pytest.mark.no_params
def test_bad_model_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.npz"
    with pytest.raises(MissingDataError, match="nope.npz: NIQE pristine-model file not found"):
        niqe(np.zeros((200, 200)), params=missing)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, mu_pris_param=np.zeros(36))
    with pytest.raises(MissingDataError, match="wrong.npz: not a NIQE pristine model"):
        niqe(np.zeros((200, 200)), params=wrong)


@pytest.mark.shared
@pytest.mark.parametrize("name", ["set5/baby", "set5/butterfly", "set5/woman"])
def test_matches_basicsr_reference(name: str) -> None:
    if not (SHARED / "set5").is_dir():
        pytest.skip("../shared/datasets not present")
    from PIL import Image

    ref = json.loads(REFERENCE.read_text())
    assert ref["implementation"] == "basicsr==1.4.2"
    img = np.asarray(Image.open(SHARED / f"{name}.png"))
    assert niqe(img) == pytest.approx(ref["values"][name], abs=0.01)


def test_dtypes_agree_and_input_untouched(astronaut: np.ndarray) -> None:
    img = astronaut[:200, :300]
    before = img.copy()
    v = niqe(img)
    assert np.array_equal(img, before)
    assert niqe(img.astype(np.float32) / 255) == pytest.approx(v, abs=1e-9)
    assert niqe(img.astype(np.uint16) * 257) == pytest.approx(v, abs=1e-9)
    assert 2.0 < v < 10.0


def test_noise_and_blur_raise_niqe(astronaut: np.ndarray) -> None:
    from scipy.ndimage import gaussian_filter

    clean = astronaut[:288, :288].astype(np.float64) / 255
    noisy = np.clip(
        clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape), 0, 1
    )
    blurred = gaussian_filter(clean, sigma=(3, 3, 0))
    base = niqe(clean)
    assert niqe(noisy) > base + 3
    assert niqe(blurred) > base + 3


def test_gray_and_y_options(astronaut: np.ndarray) -> None:
    img = astronaut[:192, :192]
    gray = np.round(img @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    # y_channel=False is 0.299 R + 0.587 G + 0.114 B, rounded like the Y path (a few
    # x.5 ties may round the other way here, hence the tolerance)
    as_gray = niqe(img, y_channel=False)
    assert as_gray == pytest.approx(niqe(gray), abs=1e-3)
    assert niqe(gray[..., None]) == niqe(gray)
    assert abs(as_gray - niqe(img)) > 1e-2


def test_crop_border(astronaut: np.ndarray) -> None:
    img = astronaut[:210, :210]
    assert niqe(img, crop_border=5) == pytest.approx(niqe(img[5:-5, 5:-5]), abs=1e-12)


def test_constant_image_is_nan() -> None:
    assert math.isnan(niqe(np.full((192, 192), 0.5)))


def test_errors() -> None:
    with pytest.raises(ShapeError, match=r"at least two 96x96 blocks.*got 100x150"):
        niqe(np.zeros((100, 150)))
    with pytest.raises(ShapeError, match=r"HW3\) image; got shape \(200, 200, 4\)"):
        niqe(np.zeros((200, 200, 4)))
    with pytest.raises(ShapeError, match="crop_border=100 removes the whole"):
        niqe(np.zeros((200, 200)), crop_border=100)
    with pytest.raises(InvalidParameterError, match="got dtype bool"):
        niqe(np.zeros((200, 200), dtype=bool))
