"""Plain denoising at low noise: restora's `denoise_color`, its `diffusion_prior` and FFDNet.

Set3C `leaves` / `monarch` (noise seeded 0) at sigma 2.55-50, and the first 5 CBSD68 images
(noise seeded by index) at 2.55 / 5 / 10; true sigma given; RGB PSNR after uint8 rounding.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/denoiser_low_noise.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from restora.bench.figures import to_uint8
from restora.metrics import psnr
from restora.models import load_model
from restora.weights import find_card

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
FFDNET = DATA.parent / "weights" / "ffdnet" / "FFDNet_color.mat"


def main() -> None:
    models = {"denoise_color": load_model(find_card("denoise_color").path),
              "diffusion_prior": load_model(find_card("diffusion_prior").path)}
    if FFDNET.is_file():
        models["FFDNet"] = load_model(FFDNET)
    print("| image | sigma | noisy | " + " | ".join(models) + " |")
    print("|---|---|---|" + "---|" * len(models))
    for name in ("leaves", "monarch"):
        clean = np.asarray(Image.open(DATA / "set3c" / f"{name}.png").convert("RGB"), np.float32) / 255
        for s in (2.55, 7.65, 15, 25, 50):
            noisy = clean + np.random.default_rng(0).normal(0, s / 255, clean.shape).astype(np.float32)
            cells = [psnr(to_uint8(clean), to_uint8(m(noisy, sigma=s))) for m in models.values()]
            print(f"| {name} | {s:g} | {psnr(to_uint8(clean), to_uint8(noisy)):.2f} | "
                  + " | ".join(f"{c:.2f}" for c in cells) + " |", flush=True)
    files = sorted((DATA / "cbsd68").glob("*.png"))[:5]
    for s in (2.55, 5.0, 10.0):
        rows = []
        for i, f in enumerate(files):
            clean = np.asarray(Image.open(f).convert("RGB"), np.float32) / 255
            noisy = clean + np.random.default_rng(i).normal(0, s / 255, clean.shape).astype(np.float32)
            rows.append([psnr(to_uint8(clean), to_uint8(noisy))]
                        + [psnr(to_uint8(clean), to_uint8(m(noisy, sigma=s))) for m in models.values()])
        mean = np.mean(rows, axis=0)
        print(f"| CBSD68 first 5 | {s:g} | " + " | ".join(f"{v:.2f}" for v in mean) + " |", flush=True)


if __name__ == "__main__":
    main()
