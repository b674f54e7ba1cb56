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
    from PIL import Image, ImageDraw
    from skimage import data

    import restora
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
    q = lambda a: np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8)  # noqa: E731
    for name, img in outputs.items():
        print(f"{name}: PSNR {psnr(q(clean), q(img)):.2f} dB")
    top, left, size = 60, 170, 128
    pad, label_h = 6, 16
    canvas = Image.new("RGB", (len(outputs) * (2 * size + pad) + pad, 2 * size + label_h + 2 * pad), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (name, img) in enumerate(outputs.items()):
        tile = Image.fromarray(q(img[top: top + size, left: left + size])).resize((2 * size, 2 * size), Image.NEAREST)
        x = pad + i * (2 * size + pad)
        canvas.paste(tile, (x, label_h + pad))
        draw.text((x, 2), name, fill="black")
    out = REPO / "docs" / "figures" / "real_x4_example.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
