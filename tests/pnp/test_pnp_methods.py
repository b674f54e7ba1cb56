"""Plug-and-play HQS (DPIR schedule): deblurring, super-resolution, inpainting, demosaicking."""

from __future__ import annotations

import numpy as np
import pytest

from restora import degrade
from restora.degrade.operators import MosaicOperator
from restora.errors import InvalidParameterError, ShapeError
from restora.methods import get_method
from restora.methods.classical import wiener
from restora.methods.denoisers import as_denoiser
from restora.metrics import psnr
from restora.solvers.pnp import bilinear_demosaic, dpir_schedule, pnp_hqs
from tests.conftest import DATASETS, shared_weight

PNP = get_method("pnp")  # what --method pnp (and the deblur/inpaint/demosaic default) runs


def _q(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)


def _blurred(clean: np.ndarray, kernel: np.ndarray, sigma: float) -> np.ndarray:
    b = degrade.blur(clean, kernel, boundary="circular")
    return degrade.add_gaussian_noise(b, sigma, seed=0).astype(np.float32)


@pytest.fixture
def crop(astronaut: np.ndarray) -> np.ndarray:
    return astronaut[100:196, 150:246].copy()


def _kernel() -> np.ndarray:
    levin = DATASETS / "blur_kernels_levin09" / "levin09_kernels.npz"
    if levin.is_file():
        k = np.load(levin)["kernel_1"].astype(np.float64)
        return k / k.sum()
    return degrade.gaussian_kernel(2.0)


def test_dpir_schedule_matches_kair() -> None:
    # KAIR get_rho_sigma(sigma=2.55/255, iter_num=8, modelSigma1=49, modelSigma2=2.55)
    levels, mus = dpir_schedule(2.55, 8)
    np.testing.assert_allclose(levels[[0, -1]], [49.0, 2.55])
    np.testing.assert_allclose(levels[1] / levels[0], (2.55 / 49.0) ** (1 / 7))
    np.testing.assert_allclose(mus, 0.23 * 2.55**2 / levels**2)
    assert dpir_schedule(0.0, 3)[0][-1] == pytest.approx(0.255)  # floored, no log(0)


def test_pnp_tv_deblur_beats_wiener(crop: np.ndarray) -> None:
    k = _kernel()
    y = _blurred(crop, k, 2.55)
    base = psnr(_q(crop), _q(wiener(y, kernel=k, sigma=2.55)))
    out = PNP(y, task="deblur", kernel=k, sigma=2.55, denoiser="tv", boundary="circular")
    assert out.shape == crop.shape and out.dtype == np.float32
    # measured 20.0 -> 30.9 dB (Levin kernel 1); 22.0 -> 28.7 dB (Gaussian fallback)
    assert psnr(_q(crop), _q(out)) >= base + 5.0


def test_registered_pnp_serves_four_tasks() -> None:
    assert PNP.tasks == ("deblur", "upscale", "inpaint", "demosaic") and PNP.needs_sigma
    assert set(PNP.options) == {"kernel", "sigma", "scale", "mask", "denoiser", "iterations",
                                "bayer", "boundary"}
    assert set(PNP.context) == {"task", "execution"} and PNP.uses_network


def test_pnp_ffdnet_gray_beats_wiener_by_2db(camera: np.ndarray) -> None:
    from restora.models import load_model

    model = load_model(shared_weight("ffdnet/FFDNet_gray.mat"))
    clean = camera[180:276, 200:296]
    k = _kernel()
    y = _blurred(clean, k, 7.65)
    base = psnr(_q(clean), _q(wiener(y, kernel=k, sigma=7.65)))
    out = PNP(y, task="deblur", kernel=k, sigma=7.65, denoiser=model, boundary="circular")
    assert psnr(_q(clean), _q(out)) >= base + 2.0  # measured 20.3 -> 28.6 dB


def test_pnp_accepts_a_callable_and_the_ensemble_mode(crop: np.ndarray) -> None:
    calls: list[float] = []

    def identity(x, s: float):  # the Denoise protocol: NCHW tensors, sigma in [0, 1] units
        calls.append(s * 255)
        return x

    k = degrade.gaussian_kernel(1.0)
    y = _blurred(crop, k, 1.0)
    op = degrade.BlurOperator(k)
    out = pnp_hqs(y, op, identity, sigma=1.0, iterations=5, ensemble=True)
    assert len(calls) == 5 and calls[0] == pytest.approx(49.0) and calls[-1] == pytest.approx(1.0)
    # each flip/rotation is undone after denoising: the identity gives the same result
    np.testing.assert_allclose(out, pnp_hqs(y, op, identity, sigma=1.0, iterations=5), atol=1e-6)

    def upper_half_only(x, s: float):  # not rotation invariant
        z = x.clone()
        z[..., : x.shape[-2] // 2, :] = 0.5
        return z

    flat = pnp_hqs(y, op, upper_half_only, sigma=1.0, iterations=2)
    turned = pnp_hqs(y, op, upper_half_only, sigma=1.0, iterations=2, ensemble=True)
    assert np.all(flat[:40] == 0.5) and not np.all(turned[:40] == 0.5)


def test_inpaint_half_the_pixels(crop: np.ndarray) -> None:
    missing = np.random.default_rng(0).random(crop.shape[:2]) <= 0.5
    observed = crop * ~missing[:, :, None]
    out = PNP(observed, task="inpaint", mask=missing, denoiser="tv")
    assert psnr(crop, out) >= psnr(crop, observed) + 20.0  # measured 7.2 -> 30.2 dB
    assert psnr(crop, out) >= 28.0


def test_demosaic_ffdnet_beats_bilinear(crop: np.ndarray) -> None:
    from restora.models import load_model

    model = load_model(shared_weight("ffdnet/FFDNet_color.mat"))
    mosaic = MosaicOperator("RGGB").A(crop)
    base = psnr(crop, np.clip(bilinear_demosaic(mosaic), 0, 1))
    out = PNP(mosaic.astype(np.float32), task="demosaic", denoiser=model)
    assert out.shape == crop.shape
    assert psnr(crop, out) >= base + 3.0  # measured 30.5 -> 38.6 dB


def test_demosaic_with_tv_reaches_floor_and_bilinear_matches_opencv(crop: np.ndarray) -> None:
    import cv2

    mosaic = MosaicOperator("RGGB").A(crop)
    ours = bilinear_demosaic(mosaic)
    # OpenCV names Bayer codes by the second row: our RGGB is its BayerBG.
    ocv = cv2.cvtColor(_q(mosaic[:, :, 0]), cv2.COLOR_BayerBG2RGB) / 255.0
    inner = (slice(2, -2), slice(2, -2))
    assert np.abs(ours[inner] - ocv[inner]).max() < 3 / 255
    out = PNP(mosaic.astype(np.float32), task="demosaic", denoiser="tv")
    assert psnr(crop, out) >= 27.0  # measured 28.2 dB


def test_super_resolve_x2_beats_pixel_replication(crop: np.ndarray) -> None:
    k = degrade.gaussian_kernel(1.0)
    op = degrade.ComposeOperator(degrade.BlurOperator(k), degrade.DownsampleOperator(2))
    lr = op.A(crop).astype(np.float32)
    nearest = np.repeat(np.repeat(lr, 2, axis=0), 2, axis=1)
    out = PNP(lr, task="upscale", scale=2, kernel=k, denoiser="tv", boundary="circular")
    assert out.shape == crop.shape
    assert psnr(crop, out) >= psnr(crop, nearest) + 6.0  # measured 24.4 -> 32.6 dB


def test_user_errors(crop: np.ndarray) -> None:
    with pytest.raises(InvalidParameterError, match="pnp deblurring needs the blur kernel"):
        PNP(crop, task="deblur", sigma=2.0, denoiser="tv")
    with pytest.raises(ShapeError, match=r"mask of shape \(10, 10\) does not match the image"):
        PNP(crop, task="inpaint", mask=np.ones((10, 10), bool), denoiser="tv")
    with pytest.raises(ShapeError, match="expected a single-channel H x W mosaic"):
        PNP.fn(crop, task="demosaic", denoiser="tv")
    with pytest.raises(InvalidParameterError, match="'bicubic' is a 'upscale' method"):
        as_denoiser("bicubic")
    with pytest.raises(InvalidParameterError, match="denoiser must be a registered denoising method"):
        as_denoiser(3)
    with pytest.raises(InvalidParameterError, match="iterations must be an integer >= 1"):
        PNP(crop, task="deblur", kernel=np.ones((3, 3)), sigma=1.0, denoiser="tv", iterations=0)
    with pytest.raises(InvalidParameterError, match="scale must be an integer >= 1"):
        PNP(crop, task="upscale", scale=1.5, denoiser="tv")
