"""EDSR-style super-resolution network: residual blocks in low resolution, sub-pixel upsampling.

Lim, Son, Kim, Nah, Lee, "Enhanced Deep Residual Networks for Single Image Super-Resolution",
CVPR Workshops 2017 (EDSR; no batch norm, residual scaling), with the sub-pixel convolution
upsampler of Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from restora.archs.registry import ArchSpec


class ResidualBlock(nn.Module):
    """``x + res_scale * conv(relu(conv(x)))`` with 3x3 convolutions (EDSR ``ResBlock``)."""

    def __init__(self, channels: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.body(x)


class EDSR(nn.Module):
    """EDSR (Lim et al., CVPRW 2017): ``(N, C, H, W)`` in [0, 1] -> ``(N, C, scale*H, scale*W)``.

    head conv -> ``num_blocks`` residual blocks -> conv (+ long skip) -> sub-pixel upsampler
    (x2 stages for scale 2/4/8, one x3 stage for 3) -> tail conv. ``scale`` 1 keeps the size
    (a restoration network). The input is shifted by -0.5 and the output by +0.5 (EDSR's
    MeanShift, with a neutral mean). ``bicubic_skip``: add the bicubic upsampling of the
    input to the output, so the network learns the residual over bicubic (VDSR's global
    residual; it starts at bicubic quality and converges much faster).
    """

    size_multiple = 1

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int | None = None,
        scale: int = 4,
        num_features: int = 64,
        num_blocks: int = 16,
        res_scale: float = 1.0,
        bicubic_skip: bool = False,
    ) -> None:
        super().__init__()
        if scale not in (1, 2, 3, 4, 8):
            raise ValueError(f"EDSR scale must be 1, 2, 3, 4 or 8, got {scale}")
        out_channels = in_channels if out_channels is None else out_channels
        self.scale = scale
        self.bicubic_skip = bicubic_skip and in_channels == out_channels
        f = num_features
        self.head = nn.Conv2d(in_channels, f, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(f, res_scale) for _ in range(num_blocks)])
        self.body_tail = nn.Conv2d(f, f, 3, padding=1)
        stages: list[nn.Module] = []
        if scale == 3:
            stages += [nn.Conv2d(f, 9 * f, 3, padding=1), nn.PixelShuffle(3)]
        elif scale > 1:
            for _ in range(int(math.log2(scale))):
                stages += [nn.Conv2d(f, 4 * f, 3, padding=1), nn.PixelShuffle(2)]
        self.upsample = nn.Sequential(*stages)
        self.tail = nn.Conv2d(f, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x - 0.5)
        h = h + self.body_tail(self.body(h))
        out = self.tail(self.upsample(h))
        if not self.bicubic_skip:
            return out + 0.5
        if self.scale == 1:
            return out + x
        up = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return out + up


SPEC = ArchSpec(
    name="edsr", cls=EDSR, task="upscale", rgb_default=True,
    cpu_engines=("openvino",),  # 0.8x torch fp32 and bf16; ONNX Runtime 1.9x (cpu_engines.py)
    example={"in_channels": 3, "scale": 2, "num_features": 8, "num_blocks": 1},
)
