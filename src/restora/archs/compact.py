"""Compact VGG-style super-resolution network: every convolution in low resolution.

Wang, Xie, Dong, Shan, "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure
Synthetic Data", ICCVW 2021 (``SRVGGNetCompact``, the ``realesr-general-x4v3`` network):
conv + PReLU stack at the input's size, one conv to ``scale**2 * C`` channels, pixel
shuffle, plus the nearest-neighbour upsampling of the input. Module names and attributes
match spandrel's ``SRVGGNetCompact`` (``body.N``, ``upsampler``), so our weights load
unchanged in spandrel, chaiNNer and ComfyUI; the network is written out here rather than
imported, because importing spandrel pulls in torchvision and more (about 185 MB resident
in every process that loads any restora model).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from restora.archs.registry import ArchSpec


class Compact(nn.Module):
    """``(N, C, H, W)`` in [0, 1] -> ``(N, C, scale*H, scale*W)``; PReLU activations.

    ``num_convs`` hidden 3x3 convolutions of ``num_features`` channels (plus the first and
    last). No convolution runs at the output resolution, which makes it 3x faster than an
    EDSR of the same quality on a CPU (``benchmarks/speed_table.py --task upscale``).
    """

    size_multiple = 1

    def __init__(self, in_channels: int = 3, out_channels: int | None = None, scale: int = 4,
                 num_features: int = 64, num_convs: int = 16, start: str = "random") -> None:
        if scale not in (1, 2, 3, 4, 8):
            raise ValueError(f"Compact scale must be 1, 2, 3, 4 or 8, got {scale}")
        if not 1 <= num_features <= 1024 or not 0 <= num_convs <= 256:
            raise ValueError(f"num_features {num_features} / num_convs {num_convs} out of range")
        out_channels = in_channels if out_channels is None else out_channels
        super().__init__()
        # spandrel's attribute names (SRVGGNetCompact), read by bicubic_start and exporters
        self.num_in_ch, self.num_out_ch, self.num_feat = in_channels, out_channels, num_features
        self.num_conv, self.upscale, self.act_type = num_convs, scale, "prelu"
        self.body = nn.ModuleList([nn.Conv2d(in_channels, num_features, 3, 1, 1),
                                   nn.PReLU(num_parameters=num_features)])
        for _ in range(num_convs):
            self.body.extend([nn.Conv2d(num_features, num_features, 3, 1, 1),
                              nn.PReLU(num_parameters=num_features)])
        self.body.append(nn.Conv2d(num_features, out_channels * scale * scale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(scale)
        self.scale = scale
        if start == "bicubic":
            bicubic_start(self)
        elif start != "random":
            raise ValueError(f"start must be 'random' or 'bicubic', got {start!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        # the residual over the nearest-neighbour upscale of the input
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.upscale, mode="nearest")


def _cubic(t: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel (a = -0.5, MATLAB's ``imresize`` bicubic)."""
    t = np.abs(t)
    return np.where(t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1,
                    np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0))


def bicubic_taps(scale: int) -> np.ndarray:
    """``(scale, 5)``: bicubic weights of the low-resolution pixels at offsets -2..2 for each
    of the ``scale`` output phases (pixel centres at ``(p + 0.5) / scale - 0.5``), sum 1."""
    phases = (np.arange(scale) + 0.5) / scale - 0.5
    taps = _cubic(phases[:, None] - np.arange(-2, 3)[None, :])
    return taps / taps.sum(axis=1, keepdims=True)


@torch.no_grad()
def bicubic_start(model: Compact) -> None:
    """Set ``model`` so that, inside the image, it outputs the bicubic upscale of its input
    (the residual over the nearest-neighbour skip), as a bicubic skip does for EDSR/VDSR.

    The first conv copies each input channel at the 9 offsets of a 3x3 window (+1, so the
    PReLUs pass them unchanged) into the first ``9 * C`` features; the hidden convs carry
    them unchanged; the last conv combines them into the 5x5 bicubic weights of each output
    phase, minus the nearest pixel. Every other weight into the carried features and out of
    the rest into the output is zero: training starts from bicubic quality.
    """
    c, f, r = model.num_in_ch, model.num_feat, model.upscale
    if model.num_out_ch != c or f < 9 * c or r < 2:
        raise ValueError(f"a bicubic start needs out = in channels, num_features >= {9 * c} and scale >= 2")
    convs = [m for m in model.body if isinstance(m, torch.nn.Conv2d)]
    carried = 9 * c
    first = convs[0]
    first.weight[:carried].zero_()
    first.bias[:carried].fill_(1.0)
    for ch in range(c):
        for k in range(9):
            first.weight[ch * 9 + k, ch, k // 3, k % 3] = 1.0
    for conv in convs[1:-1]:
        conv.weight[:carried].zero_()
        conv.weight[:, :carried].zero_()
        conv.bias[:carried].zero_()
        for j in range(carried):
            conv.weight[j, j, 1, 1] = 1.0
    last = convs[-1]
    last.weight.zero_()
    taps = bicubic_taps(r)
    split = {-2: (-1, -1), -1: (0, -1), 0: (0, 0), 1: (0, 1), 2: (1, 1)}  # offset -> (kernel, copy)
    for ch in range(c):
        for i in range(r):
            for j in range(r):
                out = ch * r * r + i * r + j  # PixelShuffle's channel order
                weights = np.outer(taps[i], taps[j])
                weights[2, 2] -= 1.0  # the nearest-neighbour skip is added after the shuffle
                for ty in range(-2, 3):
                    for tx in range(-2, 3):
                        (ky, dy), (kx, dx) = split[ty], split[tx]
                        copy = ch * 9 + (dy + 1) * 3 + (dx + 1)
                        last.weight[out, copy, ky + 1, kx + 1] += float(weights[ty + 2, tx + 2])
    last.bias.copy_(-last.weight[:, :carried].sum(dim=(1, 2, 3)))  # the +1 carried along


SPEC = ArchSpec(
    name="compact", cls=Compact, task="upscale", rgb_default=True,
    halo=lambda config: int(config.get("num_convs", 16)) + 2,  # one input pixel per 3x3 conv
    spandrel="Compact",
    example={"in_channels": 3, "scale": 2, "num_features": 8, "num_convs": 2},
)
