"""Classical denoisers on BSD68 (gray) or CBSD68 (colour) with the papers' protocol.

Protocol: clean = uint8 PNG / 255; noisy = clean + N(0, (sigma/255)^2), not clipped,
seeded per image with seed = image index (0-based, files in sorted order) through
``restora.degrade.add_gaussian_noise``; denoise with the true sigma; clip to [0, 1];
quantise to uint8; PSNR (and SSIM, 11x11 Gaussian window) on the whole image in float64
with ``restora.metrics``. Prints a markdown table: mean PSNR/SSIM and seconds per megapixel.

    .venv/bin/python benchmarks/classical_bsd68.py [--set bsd68_gray|cbsd68] [--sigma 25]
        [--methods nlm,tv,wavelet,bm3d] [--limit N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from restora.degrade import add_gaussian_noise
from restora.methods import get_method
from restora.metrics import psnr, ssim

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="bsd68_gray")
    ap.add_argument("--sigma", type=float, default=25.0)
    ap.add_argument("--methods", default="nlm,tv,wavelet,bm3d")
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0 = all)")
    args = ap.parse_args()
    from PIL import Image

    files = sorted((DATASETS / args.set).glob("*.png"))
    if not files:
        raise SystemExit(f"no PNG files in {DATASETS / args.set}")
    if args.limit:
        files = files[: args.limit]
    methods = args.methods.split(",")
    stats: dict[str, list[tuple[float, float, float]]] = {m: [] for m in ["noisy", *methods]}
    for i, path in enumerate(files):
        clean = np.asarray(Image.open(path), dtype=np.float32) / 255.0
        if clean.ndim == 2:
            clean = clean[:, :, None]
        noisy = add_gaussian_noise(clean, args.sigma, seed=i)
        mp = clean.shape[0] * clean.shape[1] / 1e6
        q = np.rint(np.clip(noisy, 0, 1) * 255) / 255
        stats["noisy"].append((psnr(clean, q), ssim(clean, q), 0.0))
        for m in methods:
            t0 = time.perf_counter()
            out = get_method(m)(noisy, sigma=args.sigma)
            dt = time.perf_counter() - t0
            out8 = np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)
            stats[m].append((psnr(clean, out8), ssim(clean, out8), dt / mp))
        print(
            f"{i + 1}/{len(files)} {path.name} "
            + " ".join(f"{m}={stats[m][-1][0]:.2f}" for m in stats),
            flush=True,
        )
    print(f"\n{args.set}, sigma={args.sigma:g}, {len(files)} images\n")
    print("| method | PSNR (dB) | SSIM | s/MP |")
    print("|---|---|---|---|")
    for m, rows in stats.items():
        a = np.asarray(rows)
        print(f"| {m} | {a[:, 0].mean():.2f} | {a[:, 1].mean():.4f} | {a[:, 2].mean():.2f} |")


if __name__ == "__main__":
    main()
