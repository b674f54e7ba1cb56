"""One forward pass of the shipped diffusion prior on a 256x256 RGB image, on the CPU, in
fp32 and bf16, default and channels-last memory layout: seconds per call, side by side.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/prior_precision_speed.py
"""

from __future__ import annotations

import copy
import time
from contextlib import nullcontext

import torch

from restora.models import load_model
from restora.weights import find_card


def per_call(fn, calls: int = 3) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    torch.set_num_threads(2)
    net = load_model(find_card("diffusion_prior").path).model.eval()
    x = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    layouts = {"default": (net, x),
               "channels-last": (copy.deepcopy(net).to(memory_format=torch.channels_last),
                                 x.contiguous(memory_format=torch.channels_last))}
    print("| precision | layout | seconds / forward |\n|---|---|---|")
    with torch.inference_mode():
        for precision in ("fp32", "bf16"):
            for layout, (model, inp) in layouts.items():
                ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
                with ctx:
                    seconds = per_call(lambda m=model, i=inp: m(i, 0.1))
                print(f"| {precision} | {layout} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
