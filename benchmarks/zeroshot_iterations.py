"""Zero-Shot Noise2Noise: PSNR and time against its number of training steps.

CBSD68 (first ``--limit`` images), Gaussian sigma 25, the paper protocol's noise (seeded per
image, ``restora.bench.evaluate.degrade_for_protocol``), RGB PSNR after uint8 rounding, one
run per setting, ``zs_n2n(noisy, iterations=N, seed=0)``. Also times one 1-megapixel image
(1024x1024 crop of the upscaled first image, sigma 25) per setting.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/zeroshot_iterations.py --limit 3 --iterations 250,500,1000,2000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cbsd68"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=3)
    ap.add_argument("--iterations", default="250,500,1000,2000")
    args = ap.parse_args(argv)

    from restora.bench.evaluate import degrade_for_protocol, list_dataset
    from restora.bench.figures import to_uint8
    from restora.degrade import imresize
    from restora.io import read_image
    from restora.methods.zeroshot import zs_n2n
    from restora.metrics import psnr

    pairs = []
    for i, path in enumerate(list_dataset(DATA)[: args.limit]):
        clean = read_image(path).pixels
        ref, noisy = degrade_for_protocol(clean, task="denoise", index=i, seed=0, sigma=25.0, scale=None,
                                          quality=None, kernel=None)
        pairs.append((ref, noisy.astype(np.float32)))
    big = np.clip(imresize(pairs[0][0], 3.0), 0, 1)[:1024, :1024]
    big_noisy = (big + np.random.default_rng(0).normal(0, 25 / 255, big.shape)).astype(np.float32)
    print(f"| steps | PSNR, CBSD68 first {len(pairs)} (dB) | s / image (0.15 MP) | s for 1 MP |")
    print("|---|---|---|---|")
    print(f"| input | {np.mean([psnr(to_uint8(r), to_uint8(n)) for r, n in pairs]):.2f} | - | - |")
    for n in (int(v) for v in args.iterations.split(",")):
        t = time.perf_counter()
        scores = [psnr(to_uint8(r), to_uint8(zs_n2n(y, iterations=n, seed=0))) for r, y in pairs]
        per_image = (time.perf_counter() - t) / len(pairs)
        t = time.perf_counter()
        zs_n2n(big_noisy, iterations=n, seed=0)
        print(f"| {n} | {np.mean(scores):.2f} | {per_image:.1f} | {time.perf_counter() - t:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
