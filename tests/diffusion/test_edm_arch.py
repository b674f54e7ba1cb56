"""EDMPrecond (Karras et al. 2022 preconditioning around DRUNet) and the EDM loss weight."""

from __future__ import annotations

import itertools
import math

import pytest

torch = pytest.importorskip("torch")

from restora.archs.edm import EDMPrecond, edm_loss_weight

SD = 0.25


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def tiny(seed: int = 0, channels: int = 3) -> EDMPrecond:
    torch.manual_seed(seed)
    return EDMPrecond(channels, channels=(8, 8, 16, 16), num_blocks=1).eval()


def hand_formula(model: EDMPrecond, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Table 1 of Karras et al. written out with Python floats."""
    var = sigma**2 + SD**2
    c_skip, c_out, c_in = SD**2 / var, sigma * SD / math.sqrt(var), 1 / math.sqrt(var)
    f = model.net(c_in * (x - 0.5), math.log(sigma) / 4)
    return 0.5 + c_skip * (x - 0.5) + c_out * f


def test_structure_and_no_biases() -> None:
    model = EDMPrecond()
    assert model.size_multiple == 8
    assert model.net.m_head.in_channels == 4  # 3 colours + the c_noise map
    assert model.net.m_tail.out_channels == 3
    assert [c.out_channels for c in (model.net.m_head,)] == [32]
    assert all("bias" not in name for name, _ in model.named_parameters())
    assert next(iter(model.state_dict())).startswith("net.m_head")


@pytest.mark.parametrize("sigma", [0.01, 0.1, 0.5, 3.0])
def test_matches_table1_formula(sigma: float) -> None:
    model = tiny()
    x = 0.5 + 0.3 * torch.randn(
        2, 3, 16, 16, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        got = model(x, sigma)
        want = hand_formula(model, x, sigma)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_small_sigma_gives_identity() -> None:
    model = tiny()
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        d = model(x, 1e-5)
    # |D - x| <= (1 - c_skip)|xc| + c_out |F| with c_out ~ 1e-5
    assert float((d - x).abs().max()) < 1e-3


def test_huge_sigma_ignores_skip() -> None:
    model = tiny()
    sigma = 1e3
    x = 0.5 + sigma * torch.randn(
        1, 3, 16, 16, generator=torch.Generator().manual_seed(3)
    )
    var = sigma**2 + SD**2
    with torch.no_grad():
        d = model(x, sigma)
        net_only = 0.5 + sigma * SD / math.sqrt(var) * model.net(
            (x - 0.5) / math.sqrt(var), math.log(sigma) / 4
        )
    # the skip term is SD^2 / var * |xc|, i.e. ~ 0.06 * 4 sigma / sigma^2 here
    assert float((d - net_only).abs().max()) < 1e-3
    assert float(d.std()) < 5.0  # an estimate of the clean image, not of the noisy one


def test_odd_sizes_and_per_sample_sigma() -> None:
    model = tiny(channels=3)
    x = torch.rand(2, 3, 13, 21, generator=torch.Generator().manual_seed(4))
    sig = torch.tensor([0.05, 0.7])
    with torch.no_grad():
        d = model(x, sig)
        d0 = model(x[:1], 0.05)
        d1 = model(x[1:], 0.7)
    assert d.shape == (2, 3, 13, 21)
    torch.testing.assert_close(d[:1], d0, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(d[1:], d1, rtol=1e-5, atol=1e-6)


def test_gray_model() -> None:
    model = tiny(channels=1)
    with torch.no_grad():
        assert model(torch.rand(1, 1, 9, 10), 0.2).shape == (1, 1, 9, 10)


def test_loss_weight_hand_values() -> None:
    w = edm_loss_weight(torch.tensor([0.25, 0.5, 1.0]))
    # (s^2 + sd^2) / (s sd)^2: 0.125 / 0.00390625 = 32; 0.3125 / 0.015625 = 20;
    # 1.0625 / 0.0625 = 17
    torch.testing.assert_close(w, torch.tensor([32.0, 20.0, 17.0]))
    # weight * c_out^2 = 1 at every sigma (unit-variance training target)
    s = torch.logspace(-3, 2, 7)
    c_out = s * SD / (s**2 + SD**2).sqrt()
    torch.testing.assert_close(edm_loss_weight(s) * c_out**2, torch.ones(7))
    torch.testing.assert_close(
        edm_loss_weight(torch.tensor(1.0), 0.5), torch.tensor(5.0)
    )


def test_tiny_model_learns_a_fixed_problem() -> None:
    model = tiny(seed=5).train()
    g = torch.Generator().manual_seed(6)
    clean = (0.5 + 0.2 * torch.randn(4, 3, 16, 16, generator=g)).clamp(0, 1)
    sigma = torch.exp(torch.linspace(math.log(0.02), math.log(2.0), 4))
    noisy = clean + sigma.reshape(-1, 1, 1, 1) * torch.randn(clean.shape, generator=g)
    weight = edm_loss_weight(sigma).reshape(-1, 1, 1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = (weight * (model(noisy, sigma) - clean) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.75 * losses[0], losses
    assert all(b < a for a, b in itertools.pairwise(losses))


def test_edm_at_zero_noise_returns_the_input() -> None:
    from restora.archs.edm import EDMPrecond

    torch.manual_seed(0)
    model = EDMPrecond(3, channels=(8, 8, 8, 8), num_blocks=1).eval()
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        out = model(x, 0.0)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, x, atol=1e-4, rtol=0)
