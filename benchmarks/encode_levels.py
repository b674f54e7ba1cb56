"""Deflate level of restora's lossless writers (PNG 8/16-bit, TIFF): seconds and size.

One photo-like image (skimage's astronaut, bicubic to ``--megapixels``, plus mild noise as
a photo has), written through ``restora.io.write_image`` as 8-bit PNG, 16-bit PNG and
16-bit TIFF at each deflate level, best of ``--repeat``, side by side in one run. The
pixels are the same at every level (checked); only time and file size change.

    .venv/bin/python benchmarks/encode_levels.py --megapixels 2 --levels 1,3,6
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--megapixels", type=float, default=2.0)
    ap.add_argument("--levels", default="1,3,6")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from PIL import Image
    from skimage import data

    from restora.io import read_image, write, write_image

    width = round(math.sqrt(args.megapixels * 1e6 * 4 / 3))
    height = round(width * 3 / 4)
    base = np.asarray(Image.fromarray(data.astronaut()).resize((width, height), Image.BICUBIC))
    noisy = base + np.random.default_rng(0).normal(0, 2.0, base.shape)
    photo8 = np.clip(noisy, 0, 255).round().astype(np.uint8)
    photo16 = np.clip(noisy * 257, 0, 65535).round().astype(np.uint16)
    kinds = {"8-bit PNG": (photo8, ".png"), "16-bit PNG": (photo16, ".png"),
             "16-bit TIFF": (photo16, ".tif")}
    print(f"# {width}x{height} ({width * height / 1e6:.2f} MP), best of {args.repeat}\n")
    print("| file | deflate level | seconds | MB | seconds / level 6's |")
    print("|---|---:|---:|---:|---:|")
    default = write.DEFLATE_LEVEL
    with tempfile.TemporaryDirectory() as tmp:
        for kind, (pixels, suffix) in kinds.items():
            rows, base_seconds = [], None
            for level in [int(v) for v in args.levels.split(",")]:
                write.DEFLATE_LEVEL = level
                target = Path(tmp) / f"out{suffix}"
                best = math.inf
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    write_image(pixels, target, overwrite=True)
                    best = min(best, time.perf_counter() - start)
                assert np.array_equal(read_image(target, samples=True).pixels, pixels)
                rows.append((level, best, target.stat().st_size / 1e6))
                if level == 6:
                    base_seconds = best
            for level, seconds, mb in rows:
                ratio = f"{seconds / base_seconds:.2f}" if base_seconds else "-"
                print(f"| {kind} | {level} | {seconds:.2f} | {mb:.2f} | {ratio} |", flush=True)
    write.DEFLATE_LEVEL = default
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
