"""The docs' side-by-side crop figure: right pixels in the right place, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from restora.bench.figures import crop_strip, to_uint8


def test_to_uint8_rounds_and_clips():
    out = to_uint8(np.array([-0.5, 0.0, 0.5 / 255, 1.5 / 255, 1.0, 2.0]))
    assert out.tolist() == [0, 0, 0, 2, 255, 255]  # round half to even at 0.5


def test_crop_strip_places_each_crop_zoomed(tmp_path):
    a = np.zeros((10, 12, 3), np.uint8)
    a[2, 3] = (255, 0, 0)  # the crop's top-left pixel (box top 2, left 3)
    b = np.full((10, 12), 0.5, np.float32)  # gray float image -> 128 on all channels
    path = crop_strip({"a": a, "b": b}, tmp_path / "fig.png", box=(2, 3, 4), zoom=2, pad=6, label_height=16)
    img = np.asarray(Image.open(path))
    assert img.shape == (16 + 2 * 6 + 8, 2 * (8 + 6) + 6, 3)
    # first tile at x = 6, y = 22: its top-left 2x2 block is the red pixel, the rest black
    assert img[22:24, 6:8].tolist() == [[[255, 0, 0]] * 2] * 2
    assert img[24, 8].tolist() == [0, 0, 0]
    # second tile at x = 6 + 8 + 6 = 20: uniform 128 gray
    assert np.all(img[22:30, 20:28] == 128)
    # padding between tiles stays white
    assert np.all(img[22:30, 14:20] == 255)


def test_crop_strip_refuses_a_box_outside_the_image(tmp_path):
    with pytest.raises(ValueError, match="does not fit 'small'"):
        crop_strip({"small": np.zeros((4, 4, 3), np.uint8)}, tmp_path / "x.png", box=(2, 2, 4))
    assert not (tmp_path / "x.png").exists()
