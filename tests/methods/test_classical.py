"""Classical methods: PSNR-gain floors, upscaler values, deblurring gains, error messages."""

from __future__ import annotations

import numpy as np
import pytest

from restora.degrade import add_gaussian_noise, blur, gaussian_kernel, imresize
from restora.errors import InvalidParameterError
from restora.methods import get_method, list_methods
from restora.metrics import psnr

#: Minimum PSNR gain (dB) over the noisy input, per (method, sigma), on both a 128x128 gray
#: crop of ``camera`` and a 128x128 RGB crop of ``astronaut`` (seed 0). Measured gains
#: (gray / rgb): nlm +4.9/+4.5 @15, +6.6/+6.3 @25; tv +5.6/+4.8, +6.5/+6.8; wavelet
#: +3.6/+5.3, +4.9/+6.8; bm3d +7.2/+8.0, +9.0/+9.8. Floors are ~0.5 dB below the lower one.
FLOORS = {
    ("nlm", 15): 4.0,
    ("nlm", 25): 5.5,
    ("tv", 15): 4.0,
    ("tv", 25): 5.5,
    ("wavelet", 15): 3.0,
    ("wavelet", 25): 4.2,
    ("bm3d", 15): 6.5,
    ("bm3d", 25): 8.5,
}
CLASSICAL_DENOISERS = [
    m.name for m in list_methods("denoise") if m.fn.__module__ == "restora.methods.classical"
]


@pytest.fixture(scope="module")
def crops() -> dict[str, np.ndarray]:
    from skimage import data

    return {
        "gray": (data.camera()[200:328, 200:328].astype(np.float32) / 255)[:, :, None],
        "rgb": data.astronaut()[30:158, 150:278].astype(np.float32) / 255,
    }


def test_every_classical_denoiser_has_a_floor():
    assert set(CLASSICAL_DENOISERS) == {name for name, _ in FLOORS}


@pytest.mark.parametrize("name", CLASSICAL_DENOISERS)
@pytest.mark.parametrize("sigma", [15, 25])
@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_denoiser_raises_psnr(crops, name, sigma, kind):
    clean = crops[kind]
    noisy = add_gaussian_noise(clean, sigma, seed=0)
    before = noisy.copy()
    out = get_method(name)(noisy, sigma=sigma)
    assert out.dtype == np.float32 and out.shape == clean.shape
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_array_equal(noisy, before)  # input untouched
    gain = psnr(clean, out) - psnr(clean, np.clip(noisy, 0, 1))
    assert gain >= FLOORS[(name, sigma)], f"{name} sigma={sigma} {kind}: +{gain:.2f} dB"


@pytest.mark.parametrize("name", ["nlm", "tv", "wavelet"])
def test_sigma_zero_returns_the_image(crops, name):
    img = crops["rgb"]
    np.testing.assert_array_equal(get_method(name)(img, sigma=0), img)


@pytest.mark.parametrize("name", ["nlm", "tv", "wavelet", "bm3d", "wiener"])
@pytest.mark.parametrize("bad", [-1.0, float("nan"), "high"])
def test_bad_sigma_message(name, bad):
    fn = get_method(name).fn
    img = np.full((16, 16, 1), 0.5, np.float32)
    extra = {"kernel": np.ones((3, 3))} if name == "wiener" else {}
    with pytest.raises(InvalidParameterError, match=f"method '{name}': sigma must be"):
        fn(img, sigma=bad, **extra)


def test_direct_call_without_sigma_says_how_to_fix():
    with pytest.raises(InvalidParameterError, match="sigma .* is required"):
        get_method("tv").fn(np.zeros((8, 8, 1), np.float32))


def test_missing_bm3d_package_names_the_extra(monkeypatch):
    import restora._optional as opt
    from restora.errors import MissingExtraError

    real = opt.importlib.import_module

    def fake(name, *a):
        if name == "bm3d":
            raise ImportError("No module named 'bm3d'")
        return real(name, *a)

    monkeypatch.setattr(opt.importlib, "import_module", fake)
    with pytest.raises(MissingExtraError, match=r"pip install 'restora\[bm3d\]'"):
        get_method("bm3d")(np.zeros((8, 8, 1), np.float32), sigma=10)


# --- upscaling ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bicubic", "lanczos"])
@pytest.mark.parametrize("scale", [1, 2, 3, 4, 8])
def test_upscaling_a_constant_image_keeps_it_constant(name, scale):
    img = np.full((5, 7, 3), 0.37, np.float32)
    out = get_method(name)(img, scale=scale)
    assert out.shape == (5 * scale, 7 * scale, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.37, atol=1e-6)


def test_bicubic_matches_matlab_hand_computed_values():
    # ramp f(i) = i/10 (1-based) along one row; MATLAB imresize(., 2): output column x
    # samples u = (x - 0.5)/2 + 0.5 with Keys a = -0.5 and replicated borders. Interior
    # columns reproduce the ramp (cubic convolution is exact on linear signals); the first
    # column (u = 0.75, taps at -1, 0, 1, 2 -> 1, 1, 1, 2) is
    # (-0.0234375 + 0.2265625 + 0.8671875) * 0.1 - 0.0703125 * 0.2 = 0.09296875.
    ramp = (np.arange(1, 9, dtype=np.float32) / 10)[None, :, None].repeat(4, axis=0)
    out = get_method("bicubic")(ramp, scale=2)
    assert out.shape == (8, 16, 1)
    u = (np.arange(1, 17) - 0.5) / 2 + 0.5
    np.testing.assert_allclose(out[2, 4:12, 0], u[4:12] / 10, atol=1e-6)
    np.testing.assert_allclose(out[:, 0, 0], 0.09296875, atol=1e-6)
    # mirror image at the right end (u = 8.25): linear 0.825, less the same excess
    np.testing.assert_allclose(out[:, -1, 0], 0.825 - (0.09296875 - 0.075), atol=1e-6)


def test_bicubic_is_imresize_clipped(crops):
    img = crops["rgb"][:32, :32]
    expected = np.clip(imresize(img, 3.0), 0, 1)
    np.testing.assert_array_equal(get_method("bicubic")(img, scale=3), expected)


def test_lanczos_is_close_to_bicubic_on_a_smooth_image(crops):
    img = blur(crops["gray"][:48, :48], gaussian_kernel(1.5))
    a = get_method("lanczos")(img, scale=2)
    b = get_method("bicubic")(img, scale=2)
    assert psnr(a[4:-4, 4:-4], b[4:-4, 4:-4]) > 40  # same pixel-centre geometry


@pytest.mark.parametrize("scale", [None, 2.5, "2", 0, 9])
def test_bad_scale_messages(scale):
    with pytest.raises(InvalidParameterError, match="'lanczos': scale"):
        get_method("lanczos").fn(np.zeros((4, 4, 1), np.float32), scale=scale)


# --- deblurring ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["wiener", "richardson_lucy"])
@pytest.mark.parametrize("kind", ["gray", "rgb"])
@pytest.mark.parametrize("size", [None, 10])  # odd (13x13) and even kernels
def test_deblurring_raises_psnr(crops, name, kind, size):
    clean = crops[kind]
    k = gaussian_kernel(2.0, size)
    blurred = add_gaussian_noise(blur(clean, k), 1.0, seed=1)
    opts = {"sigma": 1.0} if name == "wiener" else {}
    out = get_method(name)(blurred, kernel=k, **opts)
    assert out.dtype == np.float32 and out.shape == clean.shape
    gain = psnr(clean, out) - psnr(clean, np.clip(blurred, 0, 1))
    assert gain > 1.0, f"{name} {kind} size={size}: +{gain:.2f} dB"


@pytest.mark.parametrize("name", ["wiener", "richardson_lucy"])
def test_identity_kernel_keeps_alignment(crops, name):
    # an even 2x2 kernel with its single tap at the origin (1, 1) is the identity blur:
    # deconvolving with it must neither shift nor change the image.
    img = crops["gray"]
    k = np.array([[0.0, 0.0], [0.0, 1.0]])
    out = get_method(name)(img, kernel=k, **({"sigma": 0.0} if name == "wiener" else {}))
    assert psnr(img, out) > 40


@pytest.mark.parametrize("name", ["wiener", "richardson_lucy"])
def test_missing_or_bad_kernel_messages(name):
    img = np.full((16, 16, 1), 0.5, np.float32)
    fn = get_method(name).fn
    with pytest.raises(InvalidParameterError, match=f"'{name}' is non-blind: it needs kernel="):
        fn(img)
    with pytest.raises(InvalidParameterError, match="kernel must be a finite 2-D array"):
        fn(img, kernel=np.ones(3))
    with pytest.raises(InvalidParameterError, match="positive sum"):
        fn(img, kernel=np.zeros((3, 3)))


def test_richardson_lucy_bad_iterations():
    with pytest.raises(InvalidParameterError, match="iterations must be an integer >= 1"):
        get_method("richardson_lucy")(
            np.full((8, 8, 1), 0.5, np.float32), kernel=np.ones((3, 3)), iterations=0
        )


@pytest.mark.filterwarnings("ignore::UserWarning")  # pywt: few wavelet levels on tiny input
@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 3, 3), (12, 9, 1)])
@pytest.mark.parametrize(
    "name,opts",
    [
        ("nlm", {"sigma": 20}),
        ("tv", {"sigma": 20}),
        ("wavelet", {"sigma": 20}),
        ("bm3d", {"sigma": 20}),
        ("wiener", {"sigma": 2, "kernel": np.ones((7, 7))}),
        ("richardson_lucy", {"kernel": np.ones((7, 7))}),
    ],
)
def test_tiny_constant_images_stay_constant(shape, name, opts):
    img = np.full(shape, 0.4, np.float32)
    out = get_method(name)(img, **opts)
    assert out.shape == shape
    np.testing.assert_allclose(out, 0.4, atol=2 / 255)


def test_bm3d_rgb_path_equals_the_package_and_handles_gray_rgb(crops):
    import bm3d as lib

    from restora.methods.classical import _bm3d_rgb

    noisy = add_gaussian_noise(crops["rgb"][:32, :32], 20, seed=2).astype(np.float64)
    np.testing.assert_allclose(
        _bm3d_rgb(lib, noisy, 20 / 255), lib.bm3d_rgb(noisy, 20 / 255), atol=1e-6
    )
    gray_rgb = np.repeat(crops["gray"][:32, :32], 3, axis=2)  # R = G = B: chroma has no range
    out = get_method("bm3d")(gray_rgb, sigma=5)
    assert np.isfinite(out).all() and psnr(gray_rgb, out) > 30
