"""Noise statistics and seeding; JPEG round trip quality ordering and errors."""

from __future__ import annotations

import numpy as np
import pytest

from restora.degrade import add_gaussian_noise, add_poisson_gaussian_noise, jpeg_compress
from restora.errors import InvalidParameterError, ShapeError


def test_gaussian_noise_std_in_8bit_units_and_seeding() -> None:
    x = np.full((256, 256, 3), 0.5, dtype=np.float32)
    before = x.copy()
    y = add_gaussian_noise(x, 25, seed=0)
    np.testing.assert_array_equal(x, before)
    assert y.dtype == np.float32 and y.shape == x.shape
    n = (y.astype(np.float64) - 0.5) * 255
    assert n.std() == pytest.approx(25, rel=0.01)  # sd of the estimate is ~0.16 %
    assert abs(n.mean()) < 0.2
    np.testing.assert_array_equal(add_gaussian_noise(x, 25, seed=0), y)
    assert np.any(add_gaussian_noise(x, 25, seed=1) != y)
    assert np.array_equal(add_gaussian_noise(x, 0, seed=3), x)
    clipped = add_gaussian_noise(x, 200, seed=0, clip=True)
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    assert add_gaussian_noise(x, 200, seed=0).max() > 1.0


def test_gaussian_noise_rejects_bad_sigma() -> None:
    with pytest.raises(InvalidParameterError, match="sigma: expected a value >= 0"):
        add_gaussian_noise(np.zeros((4, 4)), -1)
    with pytest.raises(InvalidParameterError, match="sigma: expected a number"):
        add_gaussian_noise(np.zeros((4, 4)), "25")
    with pytest.raises(InvalidParameterError, match=r"float images in \[0, 1\], got dtype uint8"):
        add_gaussian_noise(np.zeros((4, 4), dtype=np.uint8), 25)


@pytest.mark.parametrize("level", [0.1, 0.5, 0.9])
def test_poisson_gaussian_mean_and_variance_follow_the_model(level: float) -> None:
    photons, read = 100.0, 5.0
    x = np.full((300, 300), level)
    y = add_poisson_gaussian_noise(x, photons=photons, read_sigma=read, seed=7, clip=False)
    expected_var = level / photons + (read / 255) ** 2
    assert y.astype(np.float64).mean() == pytest.approx(level, abs=0.002)
    assert y.astype(np.float64).var() == pytest.approx(expected_var, rel=0.03)


def test_poisson_gaussian_seed_clip_and_errors() -> None:
    x = np.linspace(0, 1, 64 * 64).reshape(64, 64, 1)
    a = add_poisson_gaussian_noise(x, photons=10, read_sigma=2, seed=3)
    np.testing.assert_array_equal(
        a, add_poisson_gaussian_noise(x, photons=10, read_sigma=2, seed=3)
    )
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    # without read noise the values are multiples of 1/photons
    b = add_poisson_gaussian_noise(x, photons=10, seed=3, clip=False)
    np.testing.assert_allclose(b * 10, np.round(b * 10), atol=1e-5)
    with pytest.raises(InvalidParameterError, match="photons: expected a value > 0"):
        add_poisson_gaussian_noise(x, photons=0)
    with pytest.raises(InvalidParameterError, match="read_sigma"):
        add_poisson_gaussian_noise(x, photons=5, read_sigma=-1)


def _photo() -> np.ndarray:
    from skimage.data import astronaut

    return astronaut()[100:228, 150:278].astype(np.float32) / 255


def test_jpeg_error_falls_as_quality_rises() -> None:
    x = _photo()
    errors = [float(np.mean((jpeg_compress(x, q) - x) ** 2)) for q in (5, 20, 40, 60, 80, 95)]
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False)), errors
    out = jpeg_compress(x, 50)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_array_equal(out, jpeg_compress(x, 50))  # deterministic
    assert 10 * np.log10(1 / errors[-1]) > 38  # q95 is nearly transparent
    assert 10 * np.log10(1 / errors[0]) < 30  # q5 is not


def test_jpeg_chroma_subsampling_and_gray() -> None:
    x = _photo()
    e420 = np.mean((jpeg_compress(x, 90, subsampling="4:2:0") - x) ** 2)
    e444 = np.mean((jpeg_compress(x, 90, subsampling="4:4:4") - x) ** 2)
    assert e444 < e420
    gray = x.mean(axis=2)
    g = jpeg_compress(gray, 30)
    assert g.shape == gray.shape
    assert jpeg_compress(gray[:, :, None], 30).shape == gray.shape + (1,)
    np.testing.assert_array_equal(jpeg_compress(gray[:, :, None], 30)[:, :, 0], g)
    assert 0 < np.abs(g - gray).mean() < 0.05


@pytest.mark.parametrize("quality", [0, 101, 50.5, True, "75"])
def test_jpeg_bad_quality_message(quality: object) -> None:
    with pytest.raises(
        InvalidParameterError, match=r"quality: expected an integer from 1 \(worst\) to 100"
    ):
        jpeg_compress(np.zeros((8, 8)), quality)  # type: ignore[arg-type]


def test_jpeg_bad_subsampling_and_channels() -> None:
    with pytest.raises(InvalidParameterError, match="subsampling: expected one of 4:4:4"):
        jpeg_compress(np.zeros((8, 8, 3)), 50, subsampling="4:1:1")
    with pytest.raises(ShapeError, match="drop the alpha channel"):
        jpeg_compress(np.zeros((8, 8, 4)), 50)
