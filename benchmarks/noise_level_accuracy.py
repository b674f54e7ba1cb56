"""Accuracy of restora.estimate.estimate_sigma on synthetic Gaussian noise.

Images: skimage.data astronaut, camera, coffee and the first N images of
../shared/datasets/bsd68_gray and cbsd68 (when present). Noise: sigma/255 Gaussian,
seed = image index, added to the clean image in [0,1] without clipping.
Prints a markdown table of mean estimate and mean absolute error per sigma.

    .venv/bin/python benchmarks/noise_level_accuracy.py [N]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from restora.estimate import estimate_sigma

SIGMAS = (0, 5, 15, 25, 50)


def images(n: int) -> list[tuple[str, np.ndarray]]:
    from PIL import Image
    from skimage import data

    out = [
        ("astronaut", data.astronaut()),
        ("camera", data.camera()),
        ("coffee", data.coffee()),
    ]
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
    for folder in ("bsd68_gray", "cbsd68"):
        for p in sorted((shared / folder).glob("*.png"))[:n]:
            out.append((f"{folder}/{p.stem}", np.asarray(Image.open(p))))
    res = []
    for name, a in out:
        a = a.astype(np.float32) / 255.0
        if a.ndim == 2:
            a = a[:, :, None]
        res.append((name, a))
    return res


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    imgs = images(n)
    rows: dict[tuple[str, int], float] = {}
    t0 = time.perf_counter()
    for i, (name, clean) in enumerate(imgs):
        rng = np.random.default_rng(i)
        for s in SIGMAS:
            noisy = clean + rng.standard_normal(clean.shape).astype(np.float32) * (s / 255.0)
            rows[(name, s)] = estimate_sigma(noisy)
    dt = (time.perf_counter() - t0) / (len(imgs) * len(SIGMAS))
    print("| image | " + " | ".join(f"σ={s}" for s in SIGMAS) + " |")
    print("|---" * (len(SIGMAS) + 1) + "|")
    for name, _ in imgs:
        print(f"| {name} | " + " | ".join(f"{rows[(name, s)]:.2f}" for s in SIGMAS) + " |")
    print(
        "| **mean estimate** | "
        + " | ".join(f"{np.mean([rows[(nm, s)] for nm, _ in imgs]):.2f}" for s in SIGMAS)
        + " |"
    )
    print(
        "| **mean abs error** | "
        + " | ".join(f"{np.mean([abs(rows[(nm, s)] - s) for nm, _ in imgs]):.2f}" for s in SIGMAS)
        + " |"
    )
    print(f"\n{len(imgs)} images, {dt * 1000:.0f} ms per estimate")


if __name__ == "__main__":
    main()
