"""Restoration speed on CPU, 512x512 colour deblurring: PnP iterations/s and diffusion steps/s.

In one run, on the same blurred 512x512 image (Gaussian kernel std 1.6, sigma 2.55):

* PnP-HQS (the ``pnp`` method, 8 iterations, DPIR schedule) with TV, with
  restora's shipped ``denoise_color`` and with the official FFDNet colour weights (skipped
  when ../shared/weights/ffdnet is absent): seconds per iteration;
* the diffusion prior (:class:`~restora.archs.edm.EDMPrecond`; the shipped
  ``diffusion_prior`` when installed, else an untrained one of the same shape, since speed
  does not depend on the weights): one denoiser call, one DiffPIR step (denoiser + exact
  Fourier data step) and one DPS step (denoiser + backward pass), fp32 and bf16 autocast.

Each timing follows one warm-up call. With ``device`` ``cuda`` the diffusion network runs
on the GPU (inputs and outputs stay on the CPU, so every timing includes the transfers and
ends synchronised); the Fourier data steps and the PnP rows stay on the CPU.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/diffusion_speed.py [size] [steps] [threads] [cpu|cuda]
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from restora.archs.edm import EDMPrecond
from restora.degrade.kernels import gaussian_kernel
from restora.degrade.operators import BlurOperator
from restora.methods import get_method
from restora.methods.denoisers import as_denoiser
from restora.options import Execution
from restora.solvers.diffusion import diffpir, dps

FFDNET = Path(__file__).resolve().parents[1].parent / "shared" / "weights" / "ffdnet" / "FFDNet_color.mat"


def _prior() -> tuple[torch.nn.Module, str]:
    from restora.weights import find_card

    card = find_card("diffusion_prior")
    if card is not None and card.path.is_file():
        from restora.models import load_model

        return load_model(card.path).model, "shipped diffusion_prior"
    return EDMPrecond(3, channels=(32, 64, 128, 256), num_blocks=1), "untrained EDMPrecond"


def _per_call(fn, calls: int) -> float:
    fn()  # warm-up
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls


def main(size: int = 512, steps: int = 3, threads: int = 2, device: str = "cpu") -> None:
    pnp = get_method("pnp")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    image = rng.random((size, size, 3)).astype(np.float32)
    kernel = gaussian_kernel(1.6)
    op = BlurOperator(kernel)
    y = (op.A(image) + rng.normal(0, 2.55 / 255, image.shape)).astype(np.float32)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {threads} thread(s), "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, {size}x{size}x3, diffusion network on {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.startswith("cuda") else "") + "\n")
    print("| PnP-HQS deblurring, denoiser | s / iteration | iterations / s |\n|---|---|---|")
    denoisers: dict[str, object] = {"TV": "tv"}
    from restora.models import load_model

    denoisers["restora denoise_color"] = "denoise_color"
    if FFDNET.is_file():
        denoisers["official FFDNet colour"] = load_model(FFDNET)
    for name, den in denoisers.items():
        t = _per_call(lambda den=den: pnp(y, task="deblur", kernel=kernel, sigma=2.55, denoiser=den,
                                          iterations=steps, boundary="circular"), 1) / steps
        print(f"| {name} | {t:.2f} | {1 / t:.2f} |", flush=True)

    model, label = _prior()
    model.eval().to(device)
    params = sum(p.numel() for p in model.parameters())
    x = torch.from_numpy(image.transpose(2, 0, 1)[None].copy())
    print(f"\n{label}, {params / 1e6:.2f} M parameters\n")
    print("| precision | denoiser call (s) | DiffPIR step (s) | DiffPIR steps / s | DPS step (s) |\n|---|---|---|---|---|")
    for precision in ("fp32", "bf16"):
        execution = Execution(device=device, precision=precision)
        den = as_denoiser(model, execution=execution)
        t_den = _per_call(lambda den=den: den(x, 0.5), steps)
        t_pir = _per_call(lambda den=den: diffpir(y, op, den, sigma=2.55, steps=steps, seed=0), 1) / steps
        grad_den = as_denoiser(model, execution=execution, grad=True)
        t_dps = _per_call(lambda g=grad_den: dps(y, op, g, steps=steps, seed=0), 1) / steps
        print(f"| {precision} | {t_den:.2f} | {t_pir:.2f} | {1 / t_pir:.2f} | {t_dps:.2f} |", flush=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]), *sys.argv[4:5])
