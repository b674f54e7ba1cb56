"""benchmarks/gpu_batch.py (a folder through ``restora batch`` per worker count) on the CPU,
tiny: the photos it makes, and that every batch row restores every photo with a rate."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    return benchmark_script("gpu_batch")


def test_photos_are_4_3_jpegs_of_the_size_asked_with_their_own_noise(bench, tmp_path) -> None:
    width, height = bench.make_photos(tmp_path, 2, 0.1)
    assert (width, height) == (368, 272)  # sqrt(0.1e6 * 4/3) = 365 -> 368 (multiple of 16)
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["photo_000.jpg", "photo_001.jpg"]
    a, b = (np.asarray(Image.open(f), np.float32) for f in files)
    assert a.shape == (272, 368, 3)
    # the same smooth image, different AWGN sigma 10: their difference has std ~ sqrt(2) * 10
    assert 9 < np.std(a - b) < 17


def test_every_batch_row_restores_every_photo(bench, capsys) -> None:
    assert bench.main(["--device", "cpu", "--megapixels", "0.05", "--photos", "3", "--workers", "1,2",
                       "--precision", "fp32", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"\| batch, (\d) workers? \((\d+) photos\) \| ([\d.]+) \| ([\d.]+) \|", out)
    assert [(w, n) for w, n, *_ in rows] == [("1", "3"), ("2", "3")]
    assert all(float(wall) > 0 and float(rate) > 0 for *_, wall, rate in rows)
