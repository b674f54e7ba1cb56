"""The public array API: dtype/layout round trip, tiling decisions, sigma estimated once."""

from __future__ import annotations

import numpy as np
import pytest

import restora
from restora.errors import InvalidParameterError, ShapeError
from restora.methods.registry import MethodInfo


def _box3(image: np.ndarray, *, sigma: float | None = None) -> np.ndarray:
    import cv2

    return cv2.blur(image, (3, 3), borderType=cv2.BORDER_REFLECT_101).reshape(image.shape)


BOX = MethodInfo(name="box3", task="denoise", fn=_box3, description="3x3 mean", needs_sigma=True,
                 halo=1, options=("sigma",))


def test_returns_what_the_caller_gave(camera):
    gray_u8 = np.rint(camera[..., 0] * 255).astype(np.uint8)
    out = restora.restore(gray_u8, method=BOX, sigma=10)
    assert out.dtype == np.uint8 and out.shape == gray_u8.shape
    u16 = gray_u8.astype(np.uint16) * 257
    assert restora.restore(u16, method=BOX, sigma=10).dtype == np.uint16
    # A 3x3 mean of a constant region is that constant, in every dtype.
    flat = np.full((40, 40), 77, np.uint8)
    assert np.array_equal(restora.restore(flat, method=BOX, sigma=5), flat)


def test_input_never_mutated(astronaut):
    copy = astronaut.copy()
    restora.restore(astronaut, method="nlm", sigma=15, tile=192)
    assert np.array_equal(copy, astronaut)


def test_tiled_equals_whole_for_local_method(astronaut):
    whole = restora.restore(astronaut, method=BOX, sigma=1, tile=None)
    tiled = restora.restore(astronaut, method=BOX, sigma=1, tile=128, overlap=16)
    assert np.abs(whole - tiled).max() < 1 / 255


def test_sigma_estimated_once_for_the_whole_image(astronaut, monkeypatch):
    import restora.run as run

    calls = []
    real = run.estimate_sigma
    monkeypatch.setattr(run, "estimate_sigma",
                        lambda img, **kw: calls.append(img.shape) or real(img, **kw))
    seen = []
    info = MethodInfo(name="probe", task="denoise", fn=lambda im, *, sigma=None: seen.append(sigma) or im,
                      description="probe", needs_sigma=True, halo=4, options=("sigma",))
    restora.restore(astronaut, method=info, tile=128, overlap=16)
    assert calls == [astronaut.shape]
    assert len(seen) > 1 and len(set(seen)) == 1


def test_errors_are_clear(astronaut):
    with pytest.raises(InvalidParameterError, match="scale"):
        restora.restore(astronaut, task="upscale", method="bicubic")
    with pytest.raises(InvalidParameterError, match="does upscale, not 'denoise'"):
        restora.restore(astronaut, task="denoise", method="bicubic")
    with pytest.raises(ShapeError, match="got shape"):
        restora.restore(np.zeros((2, 3, 4, 5), np.float32), method=BOX)


def test_restore_file_estimates_jpeg_noise_on_luma(tmp_path, monkeypatch):
    """A noisy 4:2:0 JPEG: the joint RGB estimate reads ~0.5; restore_file must see ~15."""
    from PIL import Image
    from skimage import data

    import restora.estimate as nl

    clean = data.astronaut()[:192, :192].astype(np.float64)
    noisy = np.clip(np.rint(clean + np.random.default_rng(0).normal(0, 15, clean.shape)), 0, 255)
    path = tmp_path / "noisy.jpg"
    Image.fromarray(noisy.astype(np.uint8)).save(path, quality=95, subsampling=2)
    assert nl.estimate_sigma(restora.read_image(path).pixels) < 5  # the bias being fixed
    seen = []
    info = MethodInfo(name="probe", task="denoise", fn=lambda im, *, sigma=None: seen.append(sigma) or im,
                      description="probe", needs_sigma=True, halo=4, options=("sigma",))
    restora.restore_file(path, tmp_path / "out.png", method=info)
    assert abs(seen[0] - 15) < 2.0


def test_samples_in_samples_out_equal_the_float_path(astronaut, camera):
    """8/16-bit arrays run by bands from their samples (Restorer.run_samples, no float copy
    of the photo): the same values as the float path quantised, with the shipped network
    (colour) and a classical method (gray HW); strength still blends as before."""
    from restora.io import from_float32, to_float32

    colour = np.rint(astronaut[:200, :232] * 255).astype(np.uint8)
    gray16 = (np.rint(camera[:80, :100, 0] * 255).astype(np.uint16) * 257)
    for image, options in ((colour, {"task": "denoise", "sigma": 15, "tile": 160}),
                           (gray16, {"method": "nlm", "sigma": 10})):
        samples = restora.restore(image, **options)
        floats = restora.restore(to_float32(image)[..., 0] if image.ndim == 2 else to_float32(image),
                                 **options)
        assert samples.dtype == image.dtype and samples.shape == image.shape
        np.testing.assert_array_equal(samples, from_float32(floats, image.dtype))
    half = restora.restore(colour, task="denoise", sigma=15, strength=0.5)
    full = restora.restore(colour, task="denoise", sigma=15)
    assert half.dtype == np.uint8 and not np.array_equal(half, full)
    assert np.abs(half.astype(int) - (colour.astype(int) + full) / 2).max() <= 1


def test_run_samples_refuses_what_needs_the_float_path():
    """The automatic mode and strength blend on floats: run_samples says to use run()."""
    from restora.options import Choice, Params
    from restora.run import Restorer

    samples = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(InvalidParameterError, match="not the automatic mode, no strength; use run"):
        Restorer(Choice()).run_samples(samples)
    with pytest.raises(InvalidParameterError, match="use run"):
        Restorer(Choice(task="denoise", method="nlm")).run_samples(samples, Params(sigma=5, strength=0.5))
