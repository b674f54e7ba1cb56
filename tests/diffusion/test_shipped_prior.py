"""restora's shipped diffusion prior: it denoises, and DiffPIR with it deblurs a real photo crop.

Reference values were measured once with the shipped float16 weights (torch 2.14.1, CPU) and
are pinned with a small margin; a worse or broken prior, or a sampler change, fails them.
"""

from __future__ import annotations

import numpy as np
import pytest

from restora.degrade.kernels import gaussian_kernel
from restora.degrade.operators import BlurOperator
from restora.metrics import psnr
from restora.weights import find_card

BEFORE_15, AFTER_15 = 24.83, 31.28  # noisy input, prior as a denoiser (dB)
BLURRED, MEAN_OF_4 = 24.63, 26.26  # blurred input, mean of 4 DiffPIR samples (dB)


def _q(a: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def crop(astronaut: np.ndarray) -> np.ndarray:
    """96x96 of the public-domain astronaut (face and suit edges), HWC float32."""
    return astronaut[40:136, 200:296]


@pytest.fixture
def prior():
    if find_card("diffusion_prior") is None:
        pytest.skip("no diffusion prior ships with this install")
    from restora.methods.diffusion import shipped_prior
    from restora.models import load_model

    return load_model(shipped_prior())


def test_prior_denoises_like_a_denoiser(crop, prior) -> None:
    noisy = crop + np.random.default_rng(0).normal(0, 15 / 255, crop.shape).astype(np.float32)
    out = prior(noisy, sigma=15)
    before, after = psnr(_q(crop), _q(noisy)), psnr(_q(crop), _q(out))
    assert before == pytest.approx(BEFORE_15, abs=0.01)
    assert after >= AFTER_15 - 0.2


def test_diffpir_with_the_shipped_prior_deblurs_a_photo_crop(crop, prior) -> None:
    from restora.methods import get_method

    kernel = gaussian_kernel(1.6)
    op = BlurOperator(kernel)
    blurred = op.A(crop.astype(np.float64))
    blurred = (blurred + np.random.default_rng(1).normal(0, 2.55 / 255, crop.shape)).astype(np.float32)
    samples = get_method("diffpir")(blurred, task="deblur", prior=prior, kernel=kernel, sigma=2.55,
                                    seed=0, samples=4, boundary="circular")
    assert psnr(_q(crop), _q(blurred)) == pytest.approx(BLURRED, abs=0.01)
    assert psnr(_q(crop), _q(samples.mean(axis=0))) >= MEAN_OF_4 - 0.3
    # generative: the samples differ, yet each explains the observation to about its noise level
    assert np.abs(samples[0] - samples[1]).mean() > 2 / 255
    for s in samples:
        residual = op.A(s.astype(np.float64)) - blurred
        assert np.sqrt(np.mean(residual**2)) < 3 * 2.55 / 255
    # the registered method is sample 0 of the same draw
    single = get_method("diffpir")(blurred, kernel=kernel, sigma=2.55, seed=0, boundary="circular")
    np.testing.assert_allclose(single, samples[0], atol=1e-6)
