"""Sampling speed of the diffusion prior on CPU: DiffPIR steps per second on a 512x512 colour image.

Untrained :class:`~restora.archs.edm.EDMPrecond` (channels (32, 64, 128, 256), one block per
level; the speed does not depend on the weights), fp32 and bf16 autocast. Reports the
denoiser call alone and a full DiffPIR step (denoiser + exact circular-deblur data step in
float64 numpy), after one warm-up call.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/diffusion_speed.py [size] [steps] [threads]
"""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np
import torch

from restora.archs.edm import EDMPrecond
from restora.degrade.kernels import gaussian_kernel
from restora.degrade.operators import BlurOperator
from restora.methods.diffusion import diffpir, model_denoiser


def main(size: int = 512, steps: int = 3, threads: int = 2) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = EDMPrecond(3, channels=(32, 64, 128, 256), num_blocks=1).eval()
    params = sum(p.numel() for p in model.parameters())
    rng = np.random.default_rng(0)
    image = rng.random((size, size, 3)).astype(np.float32)
    op = BlurOperator(gaussian_kernel(1.6))
    y = op.A(image)
    x = torch.from_numpy(image.transpose(2, 0, 1)[None].copy())
    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{threads} thread(s), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
        f"EDMPrecond {params / 1e6:.2f} M params, {size}x{size}x3"
    )
    for precision in ("fp32", "bf16"):
        den = model_denoiser(model, precision=precision)
        den(x, 0.5)  # warm-up
        t = time.perf_counter()
        for _ in range(steps):
            den(x, 0.5)
        t_den = (time.perf_counter() - t) / steps
        t = time.perf_counter()
        diffpir(y, op, den, sigma=2.55, steps=steps, seed=0)
        t_step = (time.perf_counter() - t) / steps
        print(
            f"{precision}: denoiser {t_den:.2f} s/call ({1 / t_den:.3f} calls/s); "
            f"DiffPIR deblur {t_step:.2f} s/step ({1 / t_step:.3f} steps/s)"
        )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
