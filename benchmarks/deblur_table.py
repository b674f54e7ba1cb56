"""Non-blind deblurring on Set3C with the 8 Levin et al. (2009) kernels, DPIR's protocol.

Protocol (Zhang et al., DPIR, TPAMI 2021, Sec. 5.1): clean = uint8 PNG / 255 (RGB);
blurred with the kernel, circular boundary; plus Gaussian noise of std ``sigma`` (8-bit
units; 2.55 and 7.65 = 0.01 and 0.03), seeded with the image index
(``restora.bench.evaluate.degrade_for_protocol``); each method gets the true kernel and
sigma; output clipped, quantised to uint8; PSNR on RGB, whole image
(``restora.metrics.psnr``). Prints a markdown table: mean PSNR over the 3 images per
kernel, and the mean over all kernels.

Rows: the blurred input, Wiener, Richardson-Lucy (30 iterations), PnP-HQS with TV, PnP-HQS
with the official FFDNet colour weights (skipped when ../shared/weights/ffdnet is absent).

    .venv/bin/python benchmarks/deblur_table.py [--sigmas 2.55,7.65] [--kernels 1-8]
        [--methods blurred,wiener,richardson_lucy,pnp_tv,pnp_ffdnet]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from restora.bench.evaluate import degrade_for_protocol
from restora.methods import get_method
from restora.methods.pnp import pnp_deblur
from restora.metrics import psnr

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SET3C = SHARED / "datasets" / "set3c"
LEVIN = SHARED / "datasets" / "blur_kernels_levin09" / "levin09_kernels.npz"
FFDNET = SHARED / "weights" / "ffdnet" / "FFDNet_color.mat"

Method = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def _registered(name: str) -> Method:
    info = get_method(name)
    if "sigma" in info.options:
        return lambda y, k, s: info(y, kernel=k, sigma=s)
    return lambda y, k, s: info(y, kernel=k)


def _pnp(denoiser: object) -> Method:
    return lambda y, k, s: pnp_deblur(y, kernel=k, sigma=s, denoiser=denoiser)


def methods(names: list[str]) -> dict[str, Method]:
    table: dict[str, Method] = {}
    for name in names:
        if name == "blurred":
            table[name] = lambda y, k, s: y
        elif name in ("wiener", "richardson_lucy"):
            table[name] = _registered(name)
        elif name == "pnp_ffdnet":
            if not FFDNET.is_file():
                print(f"skipping pnp_ffdnet: {FFDNET} absent")
                continue
            from restora.models import load_model

            table[name] = _pnp(load_model(FFDNET))
        elif name.startswith("pnp_"):
            table[name] = _pnp(name[4:])
        else:
            raise SystemExit(f"unknown method {name!r}")
    return table


def parse_kernels(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(v) for v in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigmas", default="2.55,7.65")
    ap.add_argument("--kernels", default="1-8")
    ap.add_argument("--methods", default="blurred,wiener,richardson_lucy,pnp_tv,pnp_ffdnet")
    args = ap.parse_args()
    from PIL import Image

    files = sorted(SET3C.glob("*.png"))
    if not files or not LEVIN.is_file():
        raise SystemExit(f"needs {SET3C} and {LEVIN}")
    cleans = [np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255.0 for f in files]
    bank = np.load(LEVIN)
    kernel_ids = parse_kernels(args.kernels)
    table = methods(args.methods.split(","))
    for sigma in (float(v) for v in args.sigmas.split(",")):
        scores = {m: np.zeros((len(kernel_ids), len(files))) for m in table}
        seconds = dict.fromkeys(table, 0.0)
        for ki, kid in enumerate(kernel_ids):
            k = bank[f"kernel_{kid}"].astype(np.float64)
            k /= k.sum()
            for i, clean in enumerate(cleans):
                ref, y = degrade_for_protocol(
                    clean,
                    task="deblur",
                    index=i,
                    seed=0,
                    sigma=sigma,
                    scale=None,
                    quality=None,
                    kernel=k,
                )
                ref8 = np.rint(ref * 255).astype(np.uint8)
                for name, fn in table.items():
                    t = time.perf_counter()
                    out = fn(y.astype(np.float32), k, sigma)
                    seconds[name] += time.perf_counter() - t
                    out8 = np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)
                    scores[name][ki, i] = psnr(ref8, out8)
        n = len(kernel_ids) * len(files)
        print(
            f"\nSet3C, Levin kernels, noise sigma {sigma:g} (8-bit units); PSNR dB (RGB, uint8)\n"
        )
        print("| method | " + " | ".join(f"k{kid}" for kid in kernel_ids) + " | mean | s/image |")
        print("|---|" + "---|" * (len(kernel_ids) + 2))
        for name, s in scores.items():
            cells = " | ".join(f"{v:.2f}" for v in s.mean(axis=1))
            print(f"| {name} | {cells} | **{s.mean():.2f}** | {seconds[name] / n:.2f} |")


if __name__ == "__main__":
    main()
