"""FFDNet: a fast denoiser working on a 2x pixel-unshuffled image plus a noise-level map.

Zhang, Zuo, Zhang, "FFDNet: Toward a Fast and Flexible Solution for CNN-Based Image
Denoising", IEEE TIP 27(9), 2018. Layer names follow KAIR's ``network_ffdnet`` (``model.0``
conv, ``model.1`` ReLU, ...). Sub-channel order is torch's ``pixel_unshuffle``; the official
MatConvNet weights use a different order and are permuted when converted
(:mod:`restora.models.matconvnet`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from restora.archs._plain_stack import parse_plain_stack
from restora.archs.registry import ArchSpec, StateDict


class FFDNet(nn.Module):
    """FFDNet (Zhang et al., TIP 2018).

    Official models: gray ``num_features=64, depth=15``; colour ``num_features=96, depth=12``
    (``depth`` counts the conv layers). ``forward(x, sigma)``: ``x`` (N, C, H, W) float in
    [0, 1]; ``sigma`` the noise std in [0, 1] units (a float, or an (N,) tensor). Odd H or W
    are padded by repeating the last row/column (as the authors' demo does) and cropped back.
    The output is the denoised image (not a residual), not clipped.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_features: int = 64,
        depth: int = 15,
    ) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"FFDNet depth must be >= 2, got {depth}")
        self.in_channels = in_channels
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels * 4 + 1, num_features, 3, padding=1, bias=True),
            nn.ReLU(inplace=True),
        ]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(num_features, num_features, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(num_features, in_channels * 4, 3, padding=1, bias=True))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        pad_h, pad_w = h % 2, w % 2
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        x = F.pixel_unshuffle(x, 2)
        sig = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
        noise_map = sig.expand(n, 1, x.shape[-2], x.shape[-1])
        y = self.model(torch.cat((x, noise_map), dim=1))
        return F.pixel_shuffle(y, 2)[..., :h, :w]


def detect(state: StateDict, bn_eps: Mapping[str, float]) -> tuple[dict[str, Any], StateDict] | None:
    """An FFDNet state dict (KAIR ``model.N`` layout: 4C + 1 channels in, 4C out)."""
    found = parse_plain_stack(state, bn_eps)
    return found[1:] if found is not None and found[0] == "ffdnet" else None


SPEC = ArchSpec(
    name="ffdnet", cls=FFDNet, task="denoise", needs_sigma=True,
    # the runner pads odd sizes by edge replication, as forward() does: an exported graph,
    # traced at an even size, has no such branch (OpenVINO failed on CBSD68's 481x321)
    size_multiple=2,
    halo=lambda config: 2 * int(config.get("depth", 15)),  # 3x3 convs at half resolution
    detect=detect, detect_order=90,
    cpu_engines=("openvino",),  # 0.7x torch fp32 and bf16 (benchmarks/cpu_engines.py)
    example={"in_channels": 3, "num_features": 8, "depth": 4},
)
