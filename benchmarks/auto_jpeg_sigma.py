"""Measure the JPEG-quality -> denoising-sigma rule of the automatic pipeline.

Until a learned deblocker ships, ``restora.auto`` removes JPEG artefacts by denoising with
the default classical denoiser (nlm) at a sigma that depends on the JPEG quality. This
script finds, for each quality, the sigma that maximises the mean RGB PSNR (against the
uncompressed-by-us image) on training images only (bsd400_color: BSDS500 train+test, which
overlaps no test set), and prints the blind noise estimate of the JPEGs as well.

Run: .venv/bin/python benchmarks/auto_jpeg_sigma.py [n_images]
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from restora.api import restore
from restora.estimate import estimate_sigma

QUALITIES = (10, 20, 30, 50, 70, 90)
SIGMAS = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 14.0, 17.0, 20.0, 25.0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def jpeg(u8: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, "JPEG", quality=quality)  # Pillow default: 4:2:0
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def main(n_images: int = 8) -> None:
    root = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "bsd400_color"
    files = sorted(root.glob("*.jpg"))[:: max(1, 400 // n_images)][:n_images]
    start = time.perf_counter()
    print(f"{len(files)} bsd400_color images: {', '.join(f.stem for f in files)}")
    print("| quality | best sigma | PSNR JPEG | PSNR best | gain | estimated sigma of JPEG |")
    print("|---|---|---|---|---|---|")
    for q in QUALITIES:
        table = np.zeros((len(files), len(SIGMAS)))
        base, est = [], []
        for i, f in enumerate(files):
            clean_u8 = np.asarray(Image.open(f).convert("RGB"))
            clean = clean_u8.astype(np.float32) / 255
            comp = jpeg(clean_u8, q).astype(np.float32) / 255
            base.append(psnr(comp, clean))
            est.append(estimate_sigma(comp))
            for j, s in enumerate(SIGMAS):
                out = comp if s == 0 else restore(comp, task="denoise", method="nlm", sigma=s, tile=None)
                table[i, j] = psnr(out, clean)
        mean = table.mean(axis=0)
        j = int(mean.argmax())
        print(f"| {q} | {SIGMAS[j]:g} | {np.mean(base):.2f} | {mean[j]:.2f} | "
              f"{mean[j] - np.mean(base):+.2f} | {np.mean(est):.2f} (max {np.max(est):.2f}) |")
        print("    per sigma: " + ", ".join(f"{s:g}:{m:.2f}" for s, m in zip(SIGMAS, mean)))
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
