"""DRUNet: the residual U-Net denoiser of the deep plug-and-play prior.

Zhang, Li, Zuo, Zhang, Van Gool, Timofte, "Plug-and-Play Image Restoration with Deep
Denoiser Prior", IEEE TPAMI 44(10), 2021. Module names match KAIR's
``network_unet.UNetRes`` (``m_head``, ``m_down1`` ... ``m_tail``, ``res.0``/``res.2`` inside
residual blocks), so KAIR's ``drunet_gray.pth`` / ``drunet_color.pth`` load unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from restora.archs.registry import (
    DEFAULT_HALO,
    ArchSpec,
    StateDict,
    count_indices,
    has_keys,
    tuples,
)


class ResBlock(nn.Module):
    """``x + conv(relu(conv(x)))`` with 3x3 convolutions (KAIR ``ResBlock``, mode 'CRC')."""

    def __init__(self, channels: int, bias: bool = False) -> None:
        super().__init__()
        self.res = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=bias),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res(x)


class DRUNet(nn.Module):
    """DRUNet (Zhang et al., TPAMI 2021): 4-level U-Net of residual blocks, noise map input.

    ``forward(x, sigma)``: ``x`` (N, C, H, W) float in [0, 1]; ``sigma`` noise std in [0, 1]
    units (float or (N,) tensor), given to the network as an extra constant channel
    (``noise_map=False``: no such channel and ``forward(x)``, a plain residual U-Net for
    restoration tasks without a level, such as blind JPEG deblocking). H and W
    are padded to a multiple of 8 by edge replication (as KAIR's test code) and cropped back.
    Down-sampling: 2x2 stride-2 convs; up-sampling: 2x2 stride-2 transposed convs; no biases.

    ``unshuffle=r`` (restora's variant, not in KAIR): the U-Net runs at 1/r of the
    resolution on ``pixel_unshuffle(x, r)`` (``r*r*C`` channels, as FFDNet's input) and its
    output is pixel-shuffled back, so the first level's convolutions are ``r*r`` times
    fewer at the same width; H and W are then padded to a multiple of ``8*r``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int | None = None,
        channels: Sequence[int] = (64, 128, 256, 512),
        num_blocks: int = 4,
        bias: bool = False,
        noise_map: bool = True,
        unshuffle: int = 1,
    ) -> None:
        super().__init__()
        self.noise_map = noise_map
        if len(channels) != 4:
            raise ValueError(f"DRUNet needs 4 channel widths, got {tuple(channels)}")
        if isinstance(unshuffle, bool) or not isinstance(unshuffle, int) or not 1 <= unshuffle <= 4:
            raise ValueError(f"DRUNet unshuffle must be 1, 2, 3 or 4, got {unshuffle!r}")
        self.unshuffle = unshuffle
        self.size_multiple = 8 * unshuffle
        out_channels = in_channels if out_channels is None else out_channels
        in_channels, out_channels = in_channels * unshuffle**2, out_channels * unshuffle**2
        c0, c1, c2, c3 = channels

        def blocks(c: int) -> list[nn.Module]:
            return [ResBlock(c, bias=bias) for _ in range(num_blocks)]

        self.m_head = nn.Conv2d(in_channels + int(noise_map), c0, 3, padding=1, bias=bias)
        self.m_down1 = nn.Sequential(*blocks(c0), nn.Conv2d(c0, c1, 2, stride=2, bias=bias))
        self.m_down2 = nn.Sequential(*blocks(c1), nn.Conv2d(c1, c2, 2, stride=2, bias=bias))
        self.m_down3 = nn.Sequential(*blocks(c2), nn.Conv2d(c2, c3, 2, stride=2, bias=bias))
        self.m_body = nn.Sequential(*blocks(c3))
        self.m_up3 = nn.Sequential(nn.ConvTranspose2d(c3, c2, 2, stride=2, bias=bias), *blocks(c2))
        self.m_up2 = nn.Sequential(nn.ConvTranspose2d(c2, c1, 2, stride=2, bias=bias), *blocks(c1))
        self.m_up1 = nn.Sequential(nn.ConvTranspose2d(c1, c0, 2, stride=2, bias=bias), *blocks(c0))
        self.m_tail = nn.Conv2d(c0, out_channels, 3, padding=1, bias=bias)

    def _centred_head(self, x0: torch.Tensor, image_channels: int) -> torch.Tensor:
        """``m_head(x0)`` for exported graphs, computed on the image centred on 0.5: the graph
        engines' bf16 (OpenVINO) rounds the head's input to 8 bits of mantissa, and values
        in [-0.5, 0.5] keep twice the precision of [0, 1] (nam_real_noise, 10 photos at
        sigma 11, untiled: -0.064 dB against fp32 -> -0.029; the automatic mode on all 25:
        41.60 -> 41.62, fp32 41.66). The same function: the centre comes back as extra
        input channels of 0.5 under the same weights, zero-padded alike."""
        weight = self.m_head.weight
        half = torch.full_like(x0[:, :image_channels], 0.5)
        centred = torch.cat((x0[:, :image_channels] - 0.5, x0[:, image_channels:], half), dim=1)
        return F.conv2d(centred, torch.cat((weight, weight[:, :image_channels]), dim=1),
                        self.m_head.bias, padding=self.m_head.padding)

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        n, _, h, w = x.shape
        m = self.size_multiple
        pad_h, pad_w = (-h) % m, (-w) % m
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        if self.noise_map:
            if sigma is None:
                raise ValueError("this DRUNet takes a noise level: forward(x, sigma)")
            sig = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
            x0 = torch.cat((x, sig.expand(n, 1, x.shape[-2], x.shape[-1])), dim=1)
        else:
            x0 = x
        # Precise ends: under autocast (bf16/fp16) the head, the skip it feeds and the tail run
        # in float32, so the input's and the output's values are not rounded to 8 bits of
        # mantissa (CBSD68 s15: -0.022 dB in bf16 -> -0.0004; 2 of the shipped network's 22 convs).
        precise = torch.is_autocast_enabled(x.device.type)
        if torch.onnx.is_in_onnx_export():
            x1 = self._centred_head(x0, x.shape[1])
        else:
            with torch.autocast(x.device.type, enabled=False) if precise else nullcontext():
                x1 = self.m_head(x0.float() if precise else x0)
        x2 = self.m_down1(x1)
        x3 = self.m_down2(x2)
        x4 = self.m_down3(x3)
        y = self.m_body(x4)
        y = self.m_up3(y + x4)
        y = self.m_up2(y + x3)
        y = self.m_up1(y + x2)
        with torch.autocast(x.device.type, enabled=False) if precise else nullcontext():
            y = self.m_tail((y.float() if precise else y) + x1)
        if self.unshuffle > 1:
            y = F.pixel_shuffle(y, self.unshuffle)
        # Cropped only when padded: the exported graph (traced at a padded size) then ends in
        # the tail's convolution, which OpenVINO's bf16 mode writes out in float32; a final
        # Slice had it round the output to bf16 first (CBSD68 s15: -0.020 dB -> -0.009).
        return y[..., :h, :w] if pad_h or pad_w else y


def detect(state: StateDict, bn_eps: Mapping[str, float]) -> tuple[dict[str, Any], StateDict] | None:
    """A DRUNet state dict (KAIR ``UNetRes`` names)."""
    if not has_keys(state, "m_head.weight", "m_tail.weight", "m_down1.0.res.0.weight",
                    "m_up1.0.weight", "m_body.0.res.0.weight"):
        return None
    nb = count_indices(state, r"^m_down1\.(\d+)\.res\.0\.weight$")
    channels = [int(state["m_head.weight"].shape[0])] + [
        int(state[f"m_down{i}.{nb}.weight"].shape[0]) for i in (1, 2, 3)]
    config = {
        "in_channels": int(state["m_head.weight"].shape[1]) - 1,
        "out_channels": int(state["m_tail.weight"].shape[0]),
        "channels": channels,
        "num_blocks": nb,
        "bias": "m_head.bias" in state,
    }
    return config, dict(state)


#: Tiling reach of a DRUNet with one residual block per level (input pixels, before
#: unshuffling): its tiles with a 64-pixel overlap score as high as with 128 on every image of
#: CBSD68 and BSD68 (sigma 25 and 50, restora's shipped weights, 264-pixel tiles) and within
#: 0.012 dB on the real pairs (docs/benchmarks.md, session 10), while the automatic tiles
#: process 0.92x (2 MP), 0.89x (24 MP) and 0.82x (100 MP) the pixels. Deeper DRUNets (the
#: published one has 4 blocks) keep DEFAULT_HALO.
ONE_BLOCK_HALO = 16


def drunet_halo(config: Mapping[str, Any]) -> int:
    """Pixels of context per output pixel for tiling: 16 for one block per level, else 32;
    times the unshuffle factor."""
    blocks = int(config.get("num_blocks", 4))
    return (ONE_BLOCK_HALO if blocks <= 1 else DEFAULT_HALO) * int(config.get("unshuffle", 1))


SPEC = ArchSpec(
    name="drunet", cls=DRUNet, task="denoise", needs_sigma=True,
    size_multiple=lambda model: int(model.size_multiple),  # 8, or 8 * unshuffle
    halo=drunet_halo,
    normalise_config=tuples("channels"), detect=detect, detect_order=10, spandrel="DRUNet",
    cpu_engines=("openvino", "onnxruntime"),  # benchmarks/cpu_engines.py, docs/benchmarks.md
    example={"in_channels": 3, "out_channels": 3, "channels": [8, 8, 16, 16], "num_blocks": 2},
)
