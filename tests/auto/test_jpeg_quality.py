"""JPEG quality estimation from the quantisation tables (exact for IJG/Pillow files)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from restora.io import read_image
from restora.io.jpeg_quality import (
    STD_LUMINANCE,
    estimate_jpeg_quality,
    ijg_table,
    quality_from_tables,
)


@pytest.fixture
def rgb_u8(astronaut):
    return np.rint(astronaut[:96, :128] * 255).astype(np.uint8)


@pytest.mark.parametrize("subsampling", [0, 2], ids=["444", "420"])
@pytest.mark.parametrize("quality", [10, 25, 50, 75, 90, 95])
def test_exact_on_pillow_files(rgb_u8, tmp_path, quality, subsampling):
    path = tmp_path / "x.jpg"
    Image.fromarray(rgb_u8).save(path, "JPEG", quality=quality, subsampling=subsampling)
    assert estimate_jpeg_quality(path) == quality
    assert estimate_jpeg_quality(str(path)) == quality
    assert estimate_jpeg_quality(read_image(path)) == quality  # a decoded Photo re-reads its header


def test_exact_on_gray_jpeg_every_quality(rgb_u8, tmp_path):
    """Gray JPEGs carry only the luminance table; every quality 1..100 is recovered."""
    path = tmp_path / "g.jpg"
    for q in range(1, 101):
        Image.fromarray(rgb_u8[..., 0]).save(path, "JPEG", quality=q)
        assert estimate_jpeg_quality(path) == q


def test_ijg_scaling_reference_values():
    # quality 50 is the Annex K table itself; 100 is all ones; 25 doubles (scale 200 %)
    assert np.array_equal(ijg_table(STD_LUMINANCE, 50), STD_LUMINANCE)
    assert np.array_equal(ijg_table(STD_LUMINANCE, 100), np.ones(64))
    assert ijg_table(STD_LUMINANCE, 25)[:4].tolist() == [32, 22, 20, 32]
    assert ijg_table(STD_LUMINANCE, 1).max() == 255  # baseline clamp
    # a table scaled by hand (libjpeg formula) for q=80: scale 40 %
    assert quality_from_tables({0: (STD_LUMINANCE * 40 + 50) // 100}) == 80


def test_not_a_jpeg_gives_none(rgb_u8, tmp_path):
    png = tmp_path / "x.png"
    Image.fromarray(rgb_u8).save(png)
    assert estimate_jpeg_quality(png) is None
    assert estimate_jpeg_quality(read_image(png)) is None
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    assert estimate_jpeg_quality(text) is None


def test_photo_without_a_file_gives_none(rgb_u8):
    from restora.io.image import Photo

    assert estimate_jpeg_quality(Photo(pixels=rgb_u8 / 255.0, format="JPEG")) is None
