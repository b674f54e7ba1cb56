"""replace_luma_jfif (tensors, any device) against the array functions it twins."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from restora.color import replace_luma_jfif, rgb_to_ycbcr_jfif, ycbcr_jfif_to_rgb
from restora.io.bridge import from_tensor, to_tensor


def test_it_equals_convert_replace_convert_back():
    rgb = np.random.default_rng(0).random((2, 17, 23, 3), dtype=np.float32)
    ycc = rgb_to_ycbcr_jfif(rgb)
    ycc[..., 0] = np.sqrt(ycc[..., 0])  # a new luma (brighter mid-tones): chroma must stay
    want = np.clip(ycbcr_jfif_to_rgb(ycc), 0, 1)
    got = from_tensor(replace_luma_jfif(to_tensor(rgb), torch.sqrt))
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
    assert np.abs(got - rgb).mean() > 0.05  # the luma did change
    same = from_tensor(replace_luma_jfif(to_tensor(rgb), lambda y: y))
    np.testing.assert_allclose(same, rgb, rtol=0, atol=1e-6)  # identity keeps the photo
