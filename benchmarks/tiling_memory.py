"""Peak extra memory of restora.pipeline.run_tiled: it should follow the tile, not the image.

For each image size and tile size, the input (HWC float32 RGB) and a preallocated ``out`` are
created first; then tracemalloc (which tracks numpy's data buffers) records the peak of
everything allocated during ``run_tiled``: this is the "extra" memory, i.e. the peak minus the
input and output arrays. The operator is a cheap numpy point operation (its own temporaries are
counted, as any fn's would be). Prints a markdown table.

    .venv/bin/python benchmarks/tiling_memory.py [--scale 1] [--overlap 32]
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc

import numpy as np

from restora.pipeline import run_tiled, tile_count

SIZES = ((1000, 1000), (2000, 2000), (3000, 4000))  # (H, W)
TILES = (256, 512)


def contrast(t: np.ndarray) -> np.ndarray:
    return np.clip(t * 1.1 - 0.05, 0.0, 1.0)


def upscale(factor: int):
    def up(t: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(t, factor, axis=0), factor, axis=1)

    return up


def measure(height: int, width: int, tile: int, overlap: int, scale: int) -> tuple[int, float]:
    image = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    out = np.empty((height * scale, width * scale, 3), dtype=np.float32)
    fn = contrast if scale == 1 else upscale(scale)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = time.perf_counter()
        run_tiled(fn, image, tile=tile, overlap=overlap, scale=scale, out=out)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--overlap", type=int, default=32)
    args = parser.parse_args()
    mb = 1024 * 1024
    print(f"machine: {platform.machine()}, {platform.python_version()}, numpy {np.__version__}")
    print(f"operator: {'contrast (pointwise)' if args.scale == 1 else f'nearest x{args.scale}'}, "
          f"overlap {args.overlap}, out preallocated float32\n")
    print("| image (WxH) | tile | tiles | input MiB | output MiB | extra peak MiB "
          "| extra / output | time s |")
    print("|---|---|---|---|---|---|---|---|")
    for height, width in SIZES:
        for tile in TILES:
            peak, seconds = measure(height, width, tile, args.overlap, args.scale)
            n = tile_count(height, width, tile=tile, overlap=args.overlap)
            in_mb = height * width * 3 * 4 / mb
            out_mb = in_mb * args.scale**2
            print(
                f"| {width}x{height} | {tile} | {n} | {in_mb:.1f} | {out_mb:.1f} | "
                f"{peak / mb:.2f} | {peak / mb / out_mb:.3f} | {seconds:.2f} |"
            )


if __name__ == "__main__":
    main()
