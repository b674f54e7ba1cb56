"""DnCNN: a plain stack of 3x3 convolutions that predicts the noise (residual learning).

Zhang, Zuo, Chen, Meng, Zhang, "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN
for Image Denoising", IEEE TIP 26(7), 2017. Layer names follow KAIR's ``network_dncnn``
(``model.0`` conv, ``model.1`` ReLU, ...), so KAIR state dicts load unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from restora.archs._plain_stack import parse_plain_stack
from restora.archs.registry import ArchSpec, StateDict

BN_EPS = 1e-4
"""Batch-norm epsilon of the authors' PyTorch code and KAIR (``nn.BatchNorm2d(eps=1e-4)``)."""


class DnCNN(nn.Module):
    """DnCNN (Zhang et al., TIP 2017): conv+ReLU, (depth-2) x [conv(+BN)+ReLU], conv.

    ``residual=True``: the network predicts the noise and the output is ``x - net(x)``
    (DnCNN-S/-B/-3); ``residual=False`` returns ``net(x)``. ``bn_eps``: BatchNorm epsilon
    (1e-4 in the authors' PyTorch code and KAIR). Input/output: (N, C, H, W)
    float in [0, 1] (not clipped), any H, W.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        num_features: int = 64,
        depth: int = 17,
        batch_norm: bool = False,
        residual: bool = True,
        bn_eps: float = BN_EPS,
    ) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"DnCNN depth must be >= 2, got {depth}")
        if residual and in_channels != out_channels:
            raise ValueError(
                f"a residual DnCNN needs in_channels == out_channels, got {in_channels} "
                f"and {out_channels}"
            )
        self.residual = residual
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, num_features, 3, padding=1, bias=True),
            nn.ReLU(inplace=True),
        ]
        for _ in range(depth - 2):
            layers.append(nn.Conv2d(num_features, num_features, 3, padding=1, bias=True))
            if batch_norm:
                layers.append(nn.BatchNorm2d(num_features, eps=bn_eps, momentum=0.1))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(num_features, out_channels, 3, padding=1, bias=True))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return x - out if self.residual else out


def merge_batch_norm(model: DnCNN) -> DnCNN:
    """Return a BN-free copy of ``model`` whose convolutions absorb the eval-mode BatchNorms.

    ``y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta`` becomes one convolution with
    weight ``w * s`` and bias ``(b - mean) * s + beta``, ``s = gamma / sqrt(var + eps)``
    (computed in float64). The input model is not modified.
    """
    convs: list[nn.Conv2d] = []
    pending: nn.Conv2d | None = None
    for layer in model.model:
        if isinstance(layer, nn.Conv2d):
            if pending is not None:
                convs.append(pending)
            pending = layer
        elif isinstance(layer, nn.BatchNorm2d):
            if pending is None:
                raise ValueError("BatchNorm2d without a preceding Conv2d")
            convs.append(_fold(pending, layer))
            pending = None
    if pending is not None:
        convs.append(pending)
    first, last = convs[0], convs[-1]
    merged = DnCNN(
        in_channels=first.in_channels,
        out_channels=last.out_channels,
        num_features=first.out_channels,
        depth=len(convs),
        batch_norm=False,
        residual=model.residual,
    )
    targets = [m for m in merged.model if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        for src, dst in zip(convs, targets, strict=True):
            dst.weight.copy_(src.weight)
            if src.bias is None:
                dst.bias.zero_()
            else:
                dst.bias.copy_(src.bias)
    return merged.eval()


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """One Conv2d equal to ``bn(conv(x))`` with ``bn`` in eval mode."""
    w = conv.weight.detach().double()
    b = conv.bias.detach().double() if conv.bias is not None else torch.zeros(w.shape[0]).double()
    mean = bn.running_mean.double()
    var = bn.running_var.double()
    gamma = bn.weight.detach().double() if bn.weight is not None else torch.ones_like(mean)
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(mean)
    scale = gamma / torch.sqrt(var + bn.eps)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, padding=conv.padding)
    with torch.no_grad():
        fused.weight.copy_((w * scale[:, None, None, None]).float())
        fused.bias.copy_(((b - mean) * scale + beta).float())
    return fused


def detect(state: StateDict, bn_eps: Mapping[str, float]) -> tuple[dict[str, Any], StateDict] | None:
    """A DnCNN state dict (KAIR ``model.N`` or the authors' ``dncnn.N`` layout)."""
    found = parse_plain_stack(state, bn_eps)
    return found[1:] if found is not None and found[0] == "dncnn" else None


SPEC = ArchSpec(
    name="dncnn", cls=DnCNN, task="denoise", needs_sigma=False,
    halo=lambda config: int(config.get("depth", 17)),  # one pixel per 3x3 conv
    detect=detect, detect_order=90, spandrel="DnCNN",
    cpu_engines=("openvino", "onnxruntime"),  # benchmarks/cpu_engines.py, docs/benchmarks.md
    example={"in_channels": 1, "out_channels": 1, "num_features": 8, "depth": 8},
)
