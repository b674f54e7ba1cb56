"""Zero-DCE++: a tiny CNN predicting a per-pixel light-enhancement curve, applied iteratively.

Guo, Li, Guo, Loy, Hou, Kwong & Cong, "Zero-Reference Deep Curve Estimation for Low-Light
Image Enhancement", CVPR 2020; Li, Guo & Loy, "Learning to Enhance Low-Light Image via
Zero-Reference Deep Curve Estimation" (Zero-DCE++), IEEE TPAMI 2021. Seven 3x3 convolutions
(depthwise-separable, as Zero-DCE++) with the symmetric skip concatenations of Zero-DCE
predict a curve-parameter map ``A`` in [-1, 1] (tanh); the quadratic curve
``LE(v) = v + A v (1 - v)`` is applied ``iterations`` times.

Two changes from the papers, both for colour: the curve is applied to the value
``v = max(R, G, B)`` (one map, not one per channel) and every channel gets the same gain
``LE^n(v) / v``, so hue and saturation are kept exactly and no channel leaves [0, 1]
(``LE`` maps [0, 1] onto itself for ``|A| <= 1`` and every channel is at most ``v``). As in
Zero-DCE++, the map can be estimated on a downscaled copy and upsampled bilinearly: images
whose long side exceeds ``max_side`` are area-downscaled for the curve estimation only.
Trained with the zero-reference losses of :mod:`restora.train.zero_reference`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from restora.archs.registry import ArchSpec

#: Convolutions in the curve estimator (Zero-DCE: 7).
DEPTH = 7


class _Conv(nn.Module):
    """3x3 convolution, depthwise-separable (Zero-DCE++'s ``CSDN_Tem``) or plain (Zero-DCE)."""

    def __init__(self, cin: int, cout: int, separable: bool) -> None:
        super().__init__()
        self.separable = separable
        if separable:
            self.depth_conv = nn.Conv2d(cin, cin, 3, padding=1, groups=cin)
            self.point_conv = nn.Conv2d(cin, cout, 1)
        else:
            self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.depth_conv(x)) if self.separable else self.conv(x)


class ZeroDCE(nn.Module):
    """Zero-DCE(++) curve estimator with hue-preserving curves (see the module doc).

    in_channels: 3 (RGB) or 1 (gray). num_features: width of the hidden convolutions (32 in
    the papers). iterations: how many times the curve is applied (8 in the papers).
    separable: depthwise-separable convolutions (Zero-DCE++: ~10k parameters at width 32)
    or plain ones (Zero-DCE: ~79k). max_side: the curve map is estimated on a copy whose
    long side is at most this (area downscaling, bilinear upsampling of the map); 0 = at
    full resolution. Input/output: (N, C, H, W) float in [0, 1] (the input is clipped to
    it), any H, W.
    """

    def __init__(self, in_channels: int = 3, num_features: int = 32, iterations: int = 8,
                 separable: bool = True, max_side: int = 512) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"ZeroDCE takes 1 or 3 channels, got {in_channels}")
        if iterations < 1 or num_features < 1 or max_side < 0:
            raise ValueError(f"ZeroDCE needs iterations >= 1, num_features >= 1 and max_side >= 0; "
                             f"got {iterations}, {num_features}, {max_side}")
        f = num_features
        self.in_channels = in_channels
        self.iterations = iterations
        self.max_side = max_side
        self.e_conv1 = _Conv(in_channels, f, separable)
        self.e_conv2 = _Conv(f, f, separable)
        self.e_conv3 = _Conv(f, f, separable)
        self.e_conv4 = _Conv(f, f, separable)
        self.e_conv5 = _Conv(2 * f, f, separable)
        self.e_conv6 = _Conv(2 * f, f, separable)
        self.e_conv7 = _Conv(2 * f, 1, separable)

    def curve_map(self, x: torch.Tensor) -> torch.Tensor:
        """The curve parameters ``A``: (N, 1, H, W) in [-1, 1], at ``x``'s resolution."""
        h, w = x.shape[-2:]
        small = x
        factor = math.ceil(max(h, w) / self.max_side) if self.max_side else 1
        if factor > 1:
            small = F.interpolate(x, size=(math.ceil(h / factor), math.ceil(w / factor)),
                                  mode="area")
        x1 = F.relu(self.e_conv1(small))
        x2 = F.relu(self.e_conv2(x1))
        x3 = F.relu(self.e_conv3(x2))
        x4 = F.relu(self.e_conv4(x3))
        x5 = F.relu(self.e_conv5(torch.cat([x3, x4], 1)))
        x6 = F.relu(self.e_conv6(torch.cat([x2, x5], 1)))
        a = torch.tanh(self.e_conv7(torch.cat([x1, x6], 1)))
        if factor > 1:
            a = F.interpolate(a, size=(h, w), mode="bilinear", align_corners=False)
        return a

    def enhance(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(enhanced, A)``: the enhanced image and the curve map (for the training losses)."""
        x = x.clamp(0.0, 1.0)
        a = self.curve_map(x)
        return apply_curve(x, a, self.iterations), a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.enhance(x)[0]


def curve_gain(value: torch.Tensor, a: torch.Tensor, iterations: int) -> torch.Tensor:
    """Gain ``LE^n(v) / v`` of the curve ``LE(v) = v + a v (1 - v)`` applied ``iterations``
    times to ``value`` in [0, 1]: the product of ``1 + a (1 - v_k)`` over the iterations
    (no division, so it is finite at v = 0)."""
    gain = torch.ones_like(value)
    v = value
    for _ in range(iterations):
        step = 1.0 + a * (1.0 - v)
        v = v * step
        gain = gain * step
    return gain


def apply_curve(x: torch.Tensor, a: torch.Tensor, iterations: int) -> torch.Tensor:
    """``x`` times the gain of the curve on its value ``max_c x`` (one gain for every
    channel: hue kept, nothing above 1). x: (N, C, H, W) in [0, 1]; a: (N, 1, H, W)."""
    value = x.amax(dim=1, keepdim=True)
    return x * curve_gain(value, a, iterations)


def _factor(max_side: int) -> int:
    """Downscaling of the curve estimation on a 1024-pixel tile."""
    return max(1, math.ceil(1024 / max_side)) if max_side else 1


SPEC = ArchSpec(
    name="zerodce", cls=ZeroDCE, task="lowlight", rgb_default=True,
    # one pixel per 3x3 conv, times the downscaling of a 1024-pixel tile
    halo=lambda config: DEPTH * _factor(int(config.get("max_side", 512))),
    train_loss="zero_reference",
    onnx=False,  # the curve map's downscaling factor depends on the input size
    example={"in_channels": 3, "num_features": 8, "iterations": 4},
)
