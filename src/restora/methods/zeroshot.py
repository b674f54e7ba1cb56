"""Zero-shot denoising: a tiny network trained on the noisy image alone.

Mansour & Heckel, "Zero-Shot Noise2Noise: Efficient Image Denoising without any Data",
CVPR 2023. The image is split by two fixed 2x2 diagonal averaging filters (stride 2) into
two half-size images with (nearly) independent noise; a 2-layer CNN predicting the noise
is trained so that each half, denoised, matches the other half (residual loss), and so
that denoising commutes with the split (consistency loss).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np

from restora.errors import InvalidParameterError
from restora.io.bridge import from_tensor, to_tensor
from restora.methods.registry import register_method
from restora.models.inference import resolve_device, resolve_precision
from restora.options import Execution

#: Paper settings: 48 channels, Adam lr 1e-3 halved every 1500 of 3000 steps (we default
#: to 2000 steps, halving at 1000: measured within 0.1 dB on our test crops).
ZS_N2N_CHANNELS = 48
ZS_N2N_LR = 1e-3
#: Training uses crops of at most this size per step (random, seeded): cost stays bounded
#: on large photos; the learnt filter is local (receptive field 5x5) and applied to all.
ZS_N2N_TRAIN_CROP = 128
#: CPU threads while training: 1 measured 3-10x faster than 2 on a shared 2-core machine
#: (tiny convolutions; a second thread mostly waits).
ZS_N2N_THREADS = 1


def _network(channels: int, width: int) -> Any:
    from torch import nn

    class _ZSN2N(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.act = nn.LeakyReLU(negative_slope=0.2)
            self.conv1 = nn.Conv2d(channels, width, 3, padding=1)
            self.conv2 = nn.Conv2d(width, width, 3, padding=1)
            self.conv3 = nn.Conv2d(width, channels, 1)

        def forward(self, x: Any) -> Any:
            return self.conv3(self.act(self.conv2(self.act(self.conv1(x)))))

    return _ZSN2N()


def _pair_downsample(x: Any) -> tuple[Any, Any]:
    """The two half-size images of ZS-N2N: means of the two diagonals of each 2x2 cell."""
    a = (x[..., 0::2, 1::2] + x[..., 1::2, 0::2]) / 2
    b = (x[..., 0::2, 0::2] + x[..., 1::2, 1::2]) / 2
    h, w = min(a.shape[-2], b.shape[-2]), min(a.shape[-1], b.shape[-1])
    return a[..., :h, :w], b[..., :h, :w]


@register_method(
    "zs_n2n",
    task="denoise",
    description="Zero-Shot Noise2Noise: a 2-layer CNN trained on the noisy image itself",
    halo=-1,
    citation="Mansour & Heckel, 'Zero-Shot Noise2Noise', CVPR 2023",
)
def zs_n2n(image: np.ndarray, *, seed: int = 0, iterations: int = 2000,
           execution: Execution | None = None) -> np.ndarray:
    """Denoise HWC float32 [0, 1] (C = 1 or 3) without a noise level or training data.

    seed: seeds the network initialisation and the training crops (same seed, same
    output on the same device: torch deterministic algorithms, :data:`ZS_N2N_THREADS` CPU
    threads); iterations: Adam steps (>= 1; the learning rate halves after half of them).
    execution: the device it trains on, and the precision (fp16/bf16: autocast). Images
    smaller than 4x4 raise. Returns HWC float32 [0, 1].
    """
    import torch
    import torch.nn.functional as F

    execution = Execution() if execution is None else execution
    device = resolve_device(execution.device)
    precision = resolve_precision(execution.precision, device=device,
                                  supported=("fp32", "fp16", "bf16"), model_name="zs_n2n")

    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, (int, np.integer))
        or iterations < 1
    ):
        raise InvalidParameterError(
            f"zs_n2n: iterations must be an integer >= 1; got {iterations!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidParameterError(f"zs_n2n: seed must be an integer; got {seed!r}")
    arr = np.asarray(image, dtype=np.float32)
    h, w, c = arr.shape
    if h < 4 or w < 4:
        raise InvalidParameterError(f"zs_n2n: the image must be at least 4x4 pixels; got {h}x{w}")

    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(execution.threads or ZS_N2N_THREADS)
    torch.use_deterministic_algorithms(True, warn_only=device != "cpu")
    autocast = (torch.autocast(torch.device(device).type,
                               dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
                if precision != "fp32" else nullcontext())
    try:
        gen = torch.Generator().manual_seed(int(seed))
        torch.manual_seed(int(seed))
        net = _network(c, ZS_N2N_CHANNELS).to(device)
        noisy = to_tensor(arr).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=ZS_N2N_LR)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, iterations // 2), gamma=0.5)
        ch, cw = min(h, ZS_N2N_TRAIN_CROP) // 2 * 2, min(w, ZS_N2N_TRAIN_CROP) // 2 * 2
        for _ in range(int(iterations)):
            i = int(torch.randint(0, (h - ch) // 2 + 1, (1,), generator=gen)) * 2
            j = int(torch.randint(0, (w - cw) // 2 + 1, (1,), generator=gen)) * 2
            x = noisy[..., i : i + ch, j : j + cw]
            with autocast:
                n1, n2 = _pair_downsample(x)
                p1, p2 = n1 - net(n1), n2 - net(n2)
                loss_res = 0.5 * (F.mse_loss(n1, p2) + F.mse_loss(n2, p1))
                d1, d2 = _pair_downsample(x - net(x))
                loss_cons = 0.5 * (F.mse_loss(p1, d1) + F.mse_loss(p2, d2))
            opt.zero_grad()
            (loss_res + loss_cons).backward()
            opt.step()
            sched.step()
        with torch.no_grad(), autocast:
            out = from_tensor(torch.clamp(noisy - net(noisy).float(), 0, 1))[0]
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    return np.ascontiguousarray(out, dtype=np.float32)
