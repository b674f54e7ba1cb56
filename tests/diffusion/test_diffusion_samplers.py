"""EDM Heun, DiffPIR and DPS samplers, checked against closed-form Gaussian-prior answers."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from restora.degrade.operators import BlurOperator, MaskOperator
from restora.errors import InvalidParameterError, ShapeError
from restora.methods import get_method
from restora.methods.denoisers import as_denoiser
from restora.options import Execution
from restora.solvers.diffusion import (
    diffpir,
    dps,
    edm_sigmas,
    gaussian_prior_denoiser,
    sample_unconditional,
)

MU, S = 0.5, 0.1


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def tiny_edm(channels: int = 3):
    from restora.archs.edm import EDMPrecond

    torch.manual_seed(0)
    return EDMPrecond(channels, channels=(8, 8, 16, 16), num_blocks=1).eval()


def net_denoiser(net, **options):
    """A network as the solvers' denoiser, through the one network runner (CPU, fp32 unless
    ``execution`` says otherwise)."""
    options.setdefault("execution", Execution(device="cpu"))
    return as_denoiser(net, **options)


def diffpir_method(image, **options):
    """The registered ``diffpir`` method (what ``--method diffpir`` runs)."""
    return get_method("diffpir")(image, **options)


def gaussian_field(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return MU + S * np.random.default_rng(seed).standard_normal(shape)


# --- schedule -------------------------------------------------------------------------------


def test_edm_sigmas_karras_formula() -> None:
    sig = edm_sigmas(5, 0.002, 80.0, 7.0)
    assert sig[0] == pytest.approx(80.0) and sig[-1] == pytest.approx(0.002)
    assert np.all(np.diff(sig) < 0)
    mid = ((80.0 ** (1 / 7) + 0.002 ** (1 / 7)) / 2) ** 7  # i = (N-1)/2
    assert sig[2] == pytest.approx(mid)
    assert edm_sigmas(1).tolist() == [40.0]
    assert edm_sigmas(3)[-1] == pytest.approx(0.001)  # [0, 1] units: EDM's 0.002 / 2


@pytest.mark.parametrize("bad", [0, -2, 2.5, True])
def test_edm_sigmas_bad_steps(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="steps"):
        edm_sigmas(bad)  # type: ignore[arg-type]


# --- unconditional --------------------------------------------------------------------------


def test_heun_samples_gaussian_prior_statistics() -> None:
    mean, std = 0.4, 0.2
    den = gaussian_prior_denoiser(mean, std)
    x = sample_unconditional(den, (48, 48, 3), steps=40, seed=0)
    assert x.shape == (48, 48, 3) and x.dtype == np.float32
    assert float(x.mean()) == pytest.approx(mean, abs=0.006)
    assert float(x.std()) == pytest.approx(std, rel=0.03)
    # second-order solver: the std error shrinks quickly with more steps
    err = [
        abs(sample_unconditional(den, (32, 32, 1), steps=n, seed=1).std() - std)
        for n in (8, 32)
    ]
    assert err[1] < err[0] / 4


def test_heun_seeds() -> None:
    den = gaussian_prior_denoiser(MU, S)
    a = sample_unconditional(den, (8, 9, 1), steps=4, seed=3)
    b = sample_unconditional(den, (8, 9, 1), steps=4, seed=3)
    c = sample_unconditional(den, (8, 9, 1), steps=4, seed=4)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0.01


def test_heun_with_network_and_bad_shape() -> None:
    x = sample_unconditional(net_denoiser(tiny_edm()), (11, 13, 3), steps=2, seed=0)
    assert x.shape == (11, 13, 3) and 0.0 <= x.min() and x.max() <= 1.0
    with pytest.raises(ShapeError, match="shape"):
        sample_unconditional(gaussian_prior_denoiser(MU, S), (8, 8), steps=2)  # type: ignore[arg-type]


# --- DiffPIR --------------------------------------------------------------------------------


def test_diffpir_identity_is_near_gaussian_posterior_mean() -> None:
    # y = x + n, x ~ N(MU, S^2): the posterior mean is MU + S^2 / (S^2 + sn^2) (y - MU)
    sn = 0.05
    rng = np.random.default_rng(0)
    x0 = gaussian_field((48, 48, 1))
    y = x0 + sn * rng.standard_normal(x0.shape)
    out = diffpir(
        y,
        MaskOperator(np.ones((48, 48))),
        gaussian_prior_denoiser(MU, S),
        sigma=sn * 255,
        steps=20,
        seed=0,
        samples=4,
    )
    assert out.shape == (4, 48, 48, 1)
    shrink = S**2 / (S**2 + sn**2)  # 0.8
    slope = np.polyfit((y - MU).ravel(), (out.mean(0) - MU).ravel(), 1)[0]
    assert slope == pytest.approx(shrink, abs=0.06)  # y itself has slope 1, the prior 0
    assert float(out.mean()) == pytest.approx(
        float(MU + shrink * (y.mean() - MU)), abs=0.003
    )
    post_std = np.sqrt(S**2 * sn**2 / (S**2 + sn**2))  # 0.045
    spread = float(out.std(0).mean())
    assert 0.3 * post_std < spread < 1.2 * post_std


def test_diffpir_inpainting_with_gaussian_prior() -> None:
    x0 = gaussian_field((32, 32, 1), seed=1)
    mask = (np.random.default_rng(2).random((32, 32)) < 0.5).astype(np.float64)
    y = x0 * mask[:, :, None]
    out = diffpir(
        y,
        MaskOperator(mask),
        gaussian_prior_denoiser(MU, S),
        sigma=0,
        steps=20,
        lam=0.25,
        zeta=1.0,
        seed=0,
        samples=3,
    )
    obs = mask > 0
    assert np.abs(out[:, obs] - x0[obs]).max() < 3e-3  # noise-free pixels are kept
    missing = out[:, ~obs]
    assert float(missing.mean()) == pytest.approx(
        MU, abs=0.01
    )  # independent pixels: prior
    assert 0.3 * S < float(missing.std()) < 1.2 * S


def test_diffpir_deblur_fits_the_observation_and_restores_detail() -> None:
    from restora.degrade.kernels import gaussian_kernel

    op = BlurOperator(gaussian_kernel(1.5))
    x0 = gaussian_field((24, 24, 1), seed=3)
    y = op.A(x0)
    out = diffpir(y, op, gaussian_prior_denoiser(MU, S), sigma=0.5, steps=15, seed=0)
    assert np.sqrt(np.mean((op.A(out) - y) ** 2)) < 0.01
    # white Gaussian data: the blur leaves std ~0.02; a posterior draw has the prior's 0.1
    assert float(y.std()) < 0.03
    assert float(out.std()) == pytest.approx(S, abs=0.03)


def test_diffpir_matches_algorithm_written_out() -> None:
    # identity operator: the data step is (y + rho x0) / (1 + rho), pixel by pixel
    lam, zeta, steps, sig8 = 1.3, 0.4, 4, 12.0
    y = gaussian_field((6, 7, 1), seed=5)
    den = gaussian_prior_denoiser(MU, S)
    got = diffpir(
        y,
        MaskOperator(np.ones((6, 7))),
        den,
        sigma=sig8,
        steps=steps,
        lam=lam,
        zeta=zeta,
        seed=11,
    )
    g = torch.Generator().manual_seed(11)
    sig = edm_sigmas(steps)
    yt = torch.from_numpy(y.transpose(2, 0, 1)[None]).float()
    x = yt + sig[0] * torch.randn((1, 1, 6, 7), generator=g)
    for i, cur in enumerate(sig):
        rho = lam * (sig8 / 255) ** 2 / cur**2
        x0_hat = (yt + rho * den(x, cur)) / (1 + rho)
        if i + 1 < steps:
            eps = (x - x0_hat) / cur
            fresh = torch.randn((1, 1, 6, 7), generator=g)
            x = x0_hat + sig[i + 1] * (np.sqrt(1 - zeta) * eps + np.sqrt(zeta) * fresh)
    want = x0_hat[0].permute(1, 2, 0).numpy().clip(0, 1)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_diffpir_seeds_and_samples() -> None:
    den = gaussian_prior_denoiser(MU, S)
    mask = np.zeros((12, 12))
    mask[::2] = 1
    y = gaussian_field((12, 12, 1)) * mask[:, :, None]
    op = MaskOperator(mask)
    a = diffpir(y, op, den, sigma=0, steps=5, seed=7)
    b = diffpir(y, op, den, sigma=0, steps=5, seed=7)
    c = diffpir(y, op, den, sigma=0, steps=5, seed=8)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (12, 12, 1) and np.abs(a - c).mean() > 1e-3
    stack = diffpir(y, op, den, sigma=0, steps=5, seed=7, samples=3)
    assert stack.shape == (3, 12, 12, 1)
    np.testing.assert_allclose(stack[0], a, atol=1e-6)
    np.testing.assert_allclose(stack[1], c, atol=1e-6)
    assert (
        min(np.abs(stack[i] - stack[j]).mean() for i, j in ((0, 1), (0, 2), (1, 2)))
        > 1e-3
    )


@pytest.mark.parametrize(
    ("options", "word"),
    [
        ({"steps": 0}, "steps"),
        ({"seed": -1}, "seed"),
        ({"samples": 0}, "samples"),
        ({"zeta": 1.5}, "zeta"),
        ({"lam": 0}, "lam"),
        ({"sigma": -1}, "sigma"),
    ],
)
def test_diffpir_bad_options(options: dict, word: str) -> None:
    kw = {"sigma": 1.0, **options}
    with pytest.raises(InvalidParameterError, match=word):
        diffpir(
            np.zeros((4, 4, 1)),
            MaskOperator(np.ones((4, 4))),
            gaussian_prior_denoiser(MU, S),
            **kw,
        )


def test_diffpir_shape_mismatch() -> None:
    with pytest.raises(ShapeError, match="shape"):
        diffpir(
            np.zeros((4, 4, 1)),
            MaskOperator(np.ones((5, 5))),
            gaussian_prior_denoiser(MU, S),
            sigma=1.0,
        )


# --- DPS ------------------------------------------------------------------------------------


def test_dps_inpainting_with_gaussian_prior() -> None:
    x0 = gaussian_field((32, 32, 1), seed=1)
    mask = (np.random.default_rng(2).random((32, 32)) < 0.5).astype(np.float64)
    y = x0 * mask[:, :, None]
    out = dps(
        y,
        MaskOperator(mask),
        gaussian_prior_denoiser(MU, S),
        steps=50,
        step_size=0.3,
        seed=0,
        samples=2,
    )
    obs = mask > 0
    assert np.abs(out[:, obs] - x0[obs]).mean() < 0.02  # prior spread is 0.1
    missing = out[:, ~obs]
    assert float(missing.mean()) == pytest.approx(MU, abs=0.01)
    assert 0.6 * S < float(missing.std()) < 1.2 * S
    # without the measurement gradient, observed pixels are just prior draws
    free = dps(
        y,
        MaskOperator(mask),
        gaussian_prior_denoiser(MU, S),
        steps=50,
        step_size=0.0,
        seed=0,
    )
    assert np.abs(free[obs] - x0[obs]).mean() > 0.05


def test_dps_seeds_and_network() -> None:
    den = gaussian_prior_denoiser(MU, S)
    y = gaussian_field((8, 8, 1))
    op = MaskOperator(np.ones((8, 8)))
    a = dps(y, op, den, steps=4, seed=1)
    np.testing.assert_array_equal(a, dps(y, op, den, steps=4, seed=1))
    assert np.abs(a - dps(y, op, den, steps=4, seed=2)).mean() > 1e-3
    out = dps(
        np.full((9, 11, 3), 0.5), MaskOperator(np.ones((9, 11))),
        net_denoiser(tiny_edm(), grad=True), steps=2
    )
    assert out.shape == (9, 11, 3)


def test_dps_needs_a_differentiable_denoiser() -> None:
    den = net_denoiser(tiny_edm(1))  # inference mode: no graph
    with pytest.raises(InvalidParameterError, match="differentiable"):
        dps(np.full((8, 8, 1), 0.5), MaskOperator(np.ones((8, 8))), den, steps=2)
    with pytest.raises(InvalidParameterError, match="step_size"):
        dps(
            np.full((8, 8, 1), 0.5),
            MaskOperator(np.ones((8, 8))),
            den,
            steps=2,
            step_size=-1,
        )


# --- model wrapper and restore entry point --------------------------------------------------


def test_network_denoiser_fp32_bf16_and_errors() -> None:
    model = tiny_edm()
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(x, 0.1)
    got = net_denoiser(model)(x, 0.1)
    torch.testing.assert_close(got, ref)
    assert got.is_inference()
    bf = net_denoiser(model, execution=Execution(device="cpu", precision="bf16"))(x, 0.1)
    assert bf.dtype == torch.float32 and 0 < float((bf - ref).abs().max()) < 0.05
    with pytest.raises(InvalidParameterError, match="precision"):
        Execution(precision="fp8")
    with pytest.raises(InvalidParameterError, match="denoiser must be"):
        as_denoiser(42)


class _LocalDenoiser(torch.nn.Module):
    """A 3x3 filter scaled by a function of sigma: halo 1, so tiles with overlap >= 4 agree
    exactly with the whole image."""

    size_multiple = 8

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1, padding_mode="replicate")
        torch.nn.init.normal_(self.conv.weight, std=0.2, generator=torch.Generator().manual_seed(0))

    def forward(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        return self.conv(x) / (1.0 + sigma)


def test_network_denoiser_tiles_large_images_like_the_whole_image() -> None:
    model = _LocalDenoiser()
    x = torch.rand(2, 3, 72, 96, generator=torch.Generator().manual_seed(1)) * 3 - 1
    whole = net_denoiser(model)(x, 0.3)
    calls = []
    model.register_forward_hook(lambda mod, args, out: calls.append(tuple(args[0].shape)))
    tiled = net_denoiser(model, tile=32, overlap=8)(x, 0.3)
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)
    assert len(calls) > 2 * 4 and all(c[-2:] == (32, 32) for c in calls)  # several 32x32 tiles per image
    calls.clear()
    small = net_denoiser(model, tile=128)(x, 0.3)  # fits: one whole-batch call
    torch.testing.assert_close(small, whole)
    assert calls == [(2, 3, 72, 96)]


def test_diffpir_method_tiled_matches_whole_for_a_local_prior() -> None:
    model = _LocalDenoiser()
    img = np.random.default_rng(0).random((40, 56, 3)).astype(np.float32)
    kernel = np.ones((3, 3)) / 9
    options = dict(task="deblur", prior=model, kernel=kernel, sigma=2.0, steps=3, boundary="circular")
    whole = diffpir_method(img, **options, execution=Execution(device="cpu", tile=None))
    tiled = diffpir_method(img, **options, execution=Execution(device="cpu", tile=24, overlap=6))
    np.testing.assert_allclose(tiled, whole, atol=1e-4)


def test_diffpir_method_tasks_with_network() -> None:
    model = tiny_edm()
    img = np.random.default_rng(0).random((13, 19, 3)).astype(np.float32)
    missing = np.zeros((13, 19), bool)
    missing[4:8, 5:12] = True
    out = diffpir_method(img, task="inpaint", prior=model, mask=missing, steps=3, seed=0)
    assert out.shape == (13, 19, 3) and out.dtype == np.float32
    assert np.abs(out[~missing] - img[~missing]).max() < 0.02
    up = diffpir_method(img[:8, :10], task="upscale", prior=model, scale=2, steps=2)
    assert up.shape == (16, 20, 3)
    gray = diffpir_method(img[:, :, :1], task="deblur", prior=model, kernel=np.ones((3, 3)) / 9,
                          sigma=2.0, steps=2, samples=2)
    assert gray.shape == (2, 13, 19, 1)  # a colour prior serves gray images as R = G = B


def test_diffpir_method_deblur_with_gaussian_prior() -> None:
    from restora.degrade.kernels import gaussian_kernel

    k = gaussian_kernel(1.0)
    x0 = gaussian_field((20, 20, 1), seed=4)
    y = BlurOperator(k).A(x0).astype(np.float32)
    out = diffpir_method(y, task="deblur", prior=gaussian_prior_denoiser(MU, S), kernel=k,
                         sigma=0.5, steps=10, boundary="circular")
    assert np.sqrt(np.mean((BlurOperator(k).A(out) - y) ** 2)) < 0.01
    assert float(out.std()) == pytest.approx(S, abs=0.03) and float(y.std()) < 0.06


@pytest.mark.parametrize(
    ("options", "word"),
    [
        ({"task": "denoise"}, "task"),
        ({"task": "deblur", "sigma": 1.0}, "kernel"),
        ({"task": "deblur", "kernel": np.ones((3, 3)) / 9}, "sigma"),
        ({"task": "upscale"}, "scale"),
        ({"task": "upscale", "scale": 1.5}, "scale"),
        ({"task": "inpaint"}, "mask"),
        ({"task": "inpaint", "mask": np.ones((4, 4)), "steps": 0}, "steps"),
    ],
)
def test_diffpir_method_bad_options(options: dict, word: str) -> None:
    with pytest.raises(InvalidParameterError, match=word):
        get_method("diffpir").fn(np.zeros((4, 4, 3), np.float32),
                                 prior=gaussian_prior_denoiser(MU, S), **options)


def test_diffpir_method_bad_mask_shape() -> None:
    with pytest.raises(ShapeError, match="mask"):
        diffpir_method(np.zeros((4, 4, 3), np.float32), task="inpaint",
                       prior=gaussian_prior_denoiser(MU, S), mask=np.ones((5, 4)))


def test_a_gray_prior_serves_colour_images_channel_by_channel() -> None:
    out = diffpir_method(np.full((8, 8, 3), 0.5, np.float32), task="upscale", scale=2,
                         prior=tiny_edm(1), steps=2)
    assert out.shape == (16, 16, 3)


def test_registered_diffpir_uses_the_shipped_prior_or_says_how_to_get_one() -> None:
    from restora.weights import find_card

    info = get_method("diffpir")
    assert info.tasks == ("deblur", "upscale", "inpaint") and "kernel" in info.options
    assert "seed" in info.options and "execution" in info.context
    rng = np.random.default_rng(0)
    image = rng.uniform(0.3, 0.7, (24, 24, 3)).astype(np.float32)
    kernel = np.full((3, 3), 1 / 9)
    if find_card("diffusion_prior") is None:
        with pytest.raises(InvalidParameterError, match="no diffusion prior ships"):
            info(image, kernel=kernel, sigma=2.55)
        return
    a = info(image, kernel=kernel, sigma=2.55, seed=1)
    b = info(image, kernel=kernel, sigma=2.55, seed=1)
    assert a.shape == image.shape and np.array_equal(a, b)
    assert not np.array_equal(a, info(image, kernel=kernel, sigma=2.55, seed=2))
