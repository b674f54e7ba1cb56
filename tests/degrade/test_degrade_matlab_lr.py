"""imresize against MATLAB's bicubic LR images (SelfExSR), from ../shared when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from restora.degrade import imresize

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
pytestmark = pytest.mark.shared

CASES = [("set5", n, s) for n in ("baby", "bird", "butterfly", "head", "woman") for s in (2, 3, 4)]
CASES += [("set14", "bridge", 3), ("set14", "comic", 4), ("set14", "pepper", 2)]


def _load(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


@pytest.mark.parametrize(("set_name", "name", "s"), CASES)
def test_matches_matlab_bicubic_lr(set_name: str, name: str, s: int) -> None:
    hr_path = DATA / set_name / f"{name}.png"
    lr_path = DATA / "sr_lr_bicubic" / set_name / f"x{s}" / f"{name}.png"
    if not (hr_path.is_file() and lr_path.is_file()):
        pytest.skip(f"shared dataset not found at {DATA}")
    hr = _load(hr_path)
    h, w = hr.shape[:2]
    hr = hr[: h - h % s, : w - w % s]
    ref = _load(lr_path).astype(np.int32)
    # uint8 in -> uint8 out, rounded per pass as MATLAB does: bit-exact
    ours = imresize(hr, 1 / s)
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(ours.astype(np.int32), ref)
    # float path, rounded once at the end: within 1 grey level almost everywhere
    flt = imresize(hr.astype(np.float64) / 255.0, 1 / s)
    q = np.clip(np.floor(flt * 255.0 + 0.5), 0, 255).astype(np.int32)
    assert np.mean(np.abs(q - ref) <= 1) >= 0.995
