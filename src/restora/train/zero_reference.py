"""Zero-reference losses of Zero-DCE: train a curve estimator without any target image.

Guo et al., "Zero-Reference Deep Curve Estimation for Low-Light Image Enhancement", CVPR
2020 (losses and weights as in the authors' Zero-DCE++ code): spatial consistency (the
differences between neighbouring 4x4 regions keep their size), exposure control (16x16
regions pulled to the well-exposedness level ``E``), colour constancy (gray world: the
channel means agree) and illumination smoothness (total variation of the curve map). The
trainer uses them with ``[optim] loss = "zero_reference"`` (an architecture exposing
``enhance(x) -> (output, curve map)``, e.g. ``zerodce``); the degraded patch is the only
input, the clean patch serves validation alone. Tensors are NCHW float in [0, 1].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn

#: Loss weights of the Zero-DCE++ code: spatial, exposure, colour, illumination smoothness.
W_SPATIAL, W_EXPOSURE, W_COLOUR, W_SMOOTH = 1.0, 10.0, 5.0, 1600.0
#: Well-exposedness level ``E`` of the exposure loss in the papers.
EXPOSURE = 0.6


def spatial_consistency(inp: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Mean over 4x4 regions of the squared change of the differences to the 4 neighbours
    (on the channel mean; Zero-DCE's ``L_spa``, zero padding at the borders)."""
    import torch.nn.functional as F

    def diffs(x: torch.Tensor) -> list[torch.Tensor]:
        pooled = F.avg_pool2d(x.mean(1, keepdim=True), 4)
        padded = F.pad(pooled, (1, 1, 1, 1))
        c = padded[..., 1:-1, 1:-1]
        return [c - padded[..., 1:-1, :-2], c - padded[..., 1:-1, 2:],
                c - padded[..., :-2, 1:-1], c - padded[..., 2:, 1:-1]]

    return sum((a - b) ** 2 for a, b in zip(diffs(inp), diffs(out), strict=True)).mean()


def exposure_control(out: torch.Tensor, level: float = EXPOSURE) -> torch.Tensor:
    """Mean squared distance of the 16x16-region means (channel mean) to ``level``
    (Zero-DCE's ``L_exp``)."""
    import torch.nn.functional as F

    return ((F.avg_pool2d(out.mean(1, keepdim=True), 16) - level) ** 2).mean()


def colour_constancy(out: torch.Tensor) -> torch.Tensor:
    """Gray-world loss: ``sqrt(Drg^2 + Drb^2 + Dgb^2)`` of the squared channel-mean
    differences, averaged over the batch (Zero-DCE's ``L_col``; 1e-12 under the root keeps
    the gradient finite on gray patches); 0 for gray images."""
    if out.shape[1] != 3:
        return out.new_zeros(())
    r, g, b = out.mean((2, 3)).unbind(1)
    return (((r - g) ** 2) ** 2 + ((r - b) ** 2) ** 2 + ((g - b) ** 2) ** 2 + 1e-12).sqrt().mean()


def illumination_smoothness(a: torch.Tensor) -> torch.Tensor:
    """Total variation of the curve map (Zero-DCE's ``L_tvA``: mean squared vertical plus
    horizontal differences, times 2 over the batch size as the authors' code)."""
    n = a.shape[0]
    h_tv = ((a[..., 1:, :] - a[..., :-1, :]) ** 2).sum() / max(1, a[..., 1:, :].numel() // n)
    w_tv = ((a[..., :, 1:] - a[..., :, :-1]) ** 2).sum() / max(1, a[..., :, 1:].numel() // n)
    return 2.0 * (h_tv + w_tv) / n


def zero_reference_loss(model: nn.Module, x: torch.Tensor, *, exposure: float = EXPOSURE
                        ) -> torch.Tensor:
    """The weighted sum of the four losses for the batch ``x`` (the degraded patches);
    ``model.enhance(x)`` gives the output and the curve map. ``exposure``: the level E."""
    out, a = model.enhance(x)  # type: ignore[operator]
    out, a = out.float(), a.float()
    return (W_SPATIAL * spatial_consistency(x, out) + W_EXPOSURE * exposure_control(out, exposure)
            + W_COLOUR * colour_constancy(out) + W_SMOOTH * illumination_smoothness(a))


__all__ = ["EXPOSURE", "colour_constancy", "exposure_control", "illumination_smoothness",
           "spatial_consistency", "zero_reference_loss"]
