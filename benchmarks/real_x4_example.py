"""Visual example for the blind real-photo upscaler: a degraded low-resolution astronaut.

The public-domain ``skimage.data.astronaut()`` (512x512) goes through the training
pipeline's second-order degradation (blur, resize, noise, JPEG, twice; seeded) down to
128x128, then back up x4 with MATLAB bicubic, the clean-input ``upscale_x4`` default and
``upscale_real_x4``. Writes ``docs/figures/real_x4_example.png`` (the same 128x128 crop of
each, labelled) and prints PSNR against the original for each.

    .venv/bin/python benchmarks/real_x4_example.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    from skimage import data

    import restora
    from restora.bench.figures import crop_strip, to_uint8
    from restora.degrade import imresize
    from restora.metrics import psnr
    from restora.train.config import DegradationConfig
    from restora.train.data import second_order

    clean = data.astronaut().astype(np.float32) / 255.0
    cfg = DegradationConfig(kind="second_order", scale=4, sigma_min=0.0, sigma_max=15.0,
                            quality_min=40, quality_max=95, blur_sigma_max=2.0)
    lr = second_order(clean, cfg, np.random.default_rng(3), lr_output=True)
    outputs = {
        "low-res input (nearest x4)": np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1),
        "bicubic x4": np.clip(imresize(lr, 4.0), 0, 1),
        "upscale_x4 (clean inputs)": restora.restore(lr, task="upscale", scale=4),
        "upscale_real_x4 (blind)": restora.restore(lr, task="upscale", scale=4, model="upscale_real_x4"),
        "original": clean,
    }
    q = to_uint8
    for name, img in outputs.items():
        print(f"{name}: PSNR {psnr(q(clean), q(img)):.2f} dB")
    out = crop_strip(outputs, REPO / "docs" / "figures" / "real_x4_example.png", box=(60, 170, 128))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
