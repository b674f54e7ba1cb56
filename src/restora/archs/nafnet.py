"""NAFNet: a nonlinear-activation-free U-Net for image restoration.

Chen, Chu, Zhang, Sun, "Simple Baselines for Image Restoration", ECCV 2022. Parameter names
match the official ``basicsr/models/archs/NAFNet_arch.py`` (megvii-research/NAFNet), so the
official state dicts load unchanged. Defaults here are a small model for our own training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from restora.archs.registry import ArchSpec, StateDict, count_indices, has_keys, tuples


class LayerNorm2d(nn.Module):
    """Layer norm over the channel axis of an NCHW tensor (eps 1e-6, per-channel affine)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / torch.sqrt(var + self.eps)
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        return x1 * x2


class NAFBlock(nn.Module):
    """NAFNet block: LN, 1x1, depthwise 3x3, SimpleGate, channel attention, 1x1; then FFN."""

    def __init__(self, c: int, dw_expand: int = 2, ffn_expand: int = 2) -> None:
        super().__init__()
        dw = c * dw_expand
        self.conv1 = nn.Conv2d(c, dw, 1, bias=True)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw, bias=True)
        self.conv3 = nn.Conv2d(dw // 2, c, 1, bias=True)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1, bias=True))
        self.sg = SimpleGate()
        ffn = c * ffn_expand
        self.conv4 = nn.Conv2d(c, ffn, 1, bias=True)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1, bias=True)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.beta = nn.Parameter(torch.zeros((1, c, 1, 1)))
        self.gamma = nn.Parameter(torch.zeros((1, c, 1, 1)))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.sg(self.conv2(self.conv1(self.norm1(inp))))
        x = self.conv3(x * self.sca(x))
        y = inp + x * self.beta
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class NAFNet(nn.Module):
    """NAFNet (Chen et al., ECCV 2022): U-Net of NAFBlocks with a global residual.

    ``x`` (N, C, H, W) float in [0, 1]; H, W are zero-padded to a multiple of
    ``2 ** len(enc_blocks)`` (as the official code) and cropped back. Official SIDD model:
    ``width=32, enc_blocks=(2, 2, 4, 8), middle_blocks=12, dec_blocks=(2, 2, 2, 2)``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 16,
        middle_blocks: int = 1,
        enc_blocks: Sequence[int] = (1, 1, 1, 1),
        dec_blocks: Sequence[int] = (1, 1, 1, 1),
    ) -> None:
        super().__init__()
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError(
                f"NAFNet needs as many decoder as encoder stages, got {tuple(enc_blocks)} "
                f"and {tuple(dec_blocks)}"
            )
        self.intro = nn.Conv2d(in_channels, width, 3, padding=1, bias=True)
        self.ending = nn.Conv2d(width, in_channels, 3, padding=1, bias=True)
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.downs = nn.ModuleList()
        chan = width
        for num in enc_blocks:
            self.encoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(num)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, 2))
            chan *= 2
        self.middle_blks = nn.Sequential(*[NAFBlock(chan) for _ in range(middle_blocks)])
        for num in dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(num)]))
        self.size_multiple = 2 ** len(self.encoders)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        _, _, h, w = inp.shape
        m = self.size_multiple
        inp = F.pad(inp, (0, (-w) % m, 0, (-h) % m))
        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, skips[::-1]):
            x = decoder(up(x) + skip)
        x = self.ending(x) + inp
        return x[:, :, :h, :w]


def detect(state: StateDict, bn_eps: Mapping[str, float]) -> tuple[dict[str, Any], StateDict] | None:
    """A NAFNet state dict (official ``NAFNet_arch`` names)."""
    if not has_keys(state, "intro.weight", "ending.weight", "middle_blks.0.conv1.weight"):
        return None
    stages = count_indices(state, r"^downs\.(\d+)\.weight$")
    config = {
        "in_channels": int(state["intro.weight"].shape[1]),
        "width": int(state["intro.weight"].shape[0]),
        "middle_blocks": count_indices(state, r"^middle_blks\.(\d+)\.conv1\.weight$"),
        "enc_blocks": [count_indices(state, rf"^encoders\.{i}\.(\d+)\.conv1\.weight$")
                       for i in range(stages)],
        "dec_blocks": [count_indices(state, rf"^decoders\.{i}\.(\d+)\.conv1\.weight$")
                       for i in range(stages)],
    }
    return config, dict(state)


SPEC = ArchSpec(
    name="nafnet", cls=NAFNet, task="restore", rgb_default=True,
    normalise_config=tuples("enc_blocks", "dec_blocks"), detect=detect, detect_order=20,
    spandrel="NAFNet",
    example={"in_channels": 3, "width": 8, "middle_blocks": 1, "enc_blocks": [1, 1],
             "dec_blocks": [1, 1]},
)
