"""EDM-preconditioned DRUNet: a denoiser ``D(x; sigma)`` for every noise level (a diffusion prior).

Karras, Aittala, Aila, Laine, "Elucidating the Design Space of Diffusion-Based Generative
Models" (EDM), NeurIPS 2022, Table 1 (preconditioning) and Eq. 2 (loss). The inner network
is DRUNet (Zhang, Li, Zuo, Zhang, Van Gool, Timofte, "Plug-and-Play Image Restoration with
Deep Denoiser Prior", TPAMI 2021), which receives ``c_noise`` as its noise-map channel.
Units: images in [0, 1] (data mean taken as 0.5), ``sigma`` in [0, 1] units (8-bit sigma / 255).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from restora.archs.drunet import DRUNet
from restora.archs.registry import ArchSpec, tuples

#: Data mean the preconditioning centres on ([0, 1] images).
DATA_MEAN = 0.5
#: Smallest noise level used ([0, 1] units): sigma = 0 (a clean image) would make
#: ``c_noise = log(0)``; below this the output is the input to within 1e-5 anyway.
SIGMA_FLOOR = 1e-5


class EDMPrecond(nn.Module):
    """``D(x; sigma) = 0.5 + c_skip xc + c_out F(c_in xc, c_noise)`` with ``xc = x - 0.5``.

    EDM preconditioning (Karras et al., NeurIPS 2022, Table 1) around a DRUNet ``F``
    (:class:`~restora.archs.drunet.DRUNet`, no biases) stored as ``self.net``:
    ``c_skip = sd^2 / (sigma^2 + sd^2)``, ``c_out = sigma sd / sqrt(sigma^2 + sd^2)``,
    ``c_in = 1 / sqrt(sigma^2 + sd^2)``, ``c_noise = log(sigma) / 4`` (given to DRUNet as
    its constant noise-map channel), ``sd = sigma_data``.

    ``forward(x, sigma)``: x (N, C, H, W) noisy image (clean data in [0, 1], noise
    unbounded), any H and W (DRUNet pads to a multiple of 8 and crops); sigma >= 0, noise
    std in [0, 1] units, a float or an (N,) tensor (floored at :data:`SIGMA_FLOOR`). Returns the clean-image estimate
    (N, C, H, W), [0, 1] units, not clipped.
    """

    size_multiple = 8

    def __init__(
        self,
        in_channels: int = 3,
        channels: Sequence[int] = (32, 64, 128, 256),
        num_blocks: int = 1,
        sigma_data: float = 0.25,
    ) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.sigma_data = float(sigma_data)
        self.net = DRUNet(
            in_channels,
            in_channels,
            channels=tuple(channels),
            num_blocks=num_blocks,
            bias=False,
        )

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        sig = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(
            -1, 1, 1, 1
        ).clamp_min(SIGMA_FLOOR)
        sd = self.sigma_data
        var = sig**2 + sd**2
        c_skip = sd**2 / var
        c_out = sig * sd / var.sqrt()
        c_in = var.rsqrt()
        c_noise = sig.log() / 4
        xc = x - DATA_MEAN
        f = self.net(c_in * xc, c_noise.reshape(-1))
        return DATA_MEAN + c_skip * xc + c_out * f


def edm_loss_weight(sigma: torch.Tensor, sigma_data: float = 0.25) -> torch.Tensor:
    """EDM loss weight ``lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2`` (Karras et al. 2022).

    The training loss is ``mean(weight * (D(x + n; sigma) - x)^2)``; with it the effective
    target of the inner network has unit variance at every sigma. sigma in [0, 1] units, > 0.
    """
    sd = float(sigma_data)
    return (sigma**2 + sd**2) / (sigma * sd) ** 2


SPEC = ArchSpec(
    name="edm", cls=EDMPrecond, task="denoise", needs_sigma=True, size_multiple=8,
    rgb_default=True, normalise_config=tuples("channels"), train_loss="edm",
    example={"in_channels": 3, "channels": [8, 8, 16, 16], "num_blocks": 1},
)
