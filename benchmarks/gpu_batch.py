"""A folder of photos through ``restora batch`` on a GPU: file-to-file rate per worker count.

The batch engine gives a GPU :data:`restora.batch.core.GPU_WORKERS` processes so that one
decodes and encodes while another's tiles are on the GPU. This measures whether that
overlap pays, and what decoding and encoding cost against the network:

* **network on an array**: ``restora.restore`` on the decoded photo as a uint8 array, in
  this process after a warm-up (what the runner does per photo, no files);
* **batch, W workers**: ``restora.batch.run_batch`` on ``--photos`` JPEGs (``--megapixels``
  each, a smooth image with noise, quality 92) into JPEG, fresh output folder per run.
  ``wall``: the whole call (worker start, model loads, every photo). ``steady``: photos per
  second between the first and the last photo finished (the start-up left out).

All rows use the shipped ``denoise_color`` at sigma 25 (a fixed sigma: the automatic mode's
reading is CPU work of its own) at ``--precision``. Prints one Markdown table; the last
column is the steady file-to-file rate over the array rate (1.0: decoding and encoding
fully hidden behind the GPU).

    .venv/bin/python benchmarks/gpu_batch.py                                      # cuda, 8 MP x 24
    .venv/bin/python benchmarks/gpu_batch.py --device cpu --megapixels 0.1 --photos 4 --workers 1,2 --precision fp32
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_throughput import _best, photo_size  # the same photo size and best-of timer


def make_photos(folder: Path, count: int, megapixels: float) -> tuple[int, int]:
    """``count`` 4:3 JPEGs (quality 92) of ``megapixels``: a 64x48 random colour image
    enlarged bicubically (smooth shading; numpy and Pillow only, as on the lent GPU's image)
    with AWGN sigma 10 (8-bit scale), each with its own noise; returns (width, height)."""
    from PIL import Image

    width, height = photo_size(megapixels)
    rng = np.random.default_rng(0)
    small = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    base = np.asarray(small.resize((width, height), Image.BICUBIC), np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        noisy = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).round().astype(np.uint8)
        Image.fromarray(noisy).save(folder / f"photo_{i:03d}.jpg", quality=92)
    return width, height


def time_batch(photos: Path, out: Path, request: dict, workers: int) -> tuple[float, float, int]:
    """(wall seconds, steady photos per second, photos done) of one batch run into ``out``."""
    from restora.batch import run_batch

    finished: list[float] = []

    def progress(summary) -> None:
        if summary.processed > len(finished):
            finished.append(time.perf_counter())

    start = time.perf_counter()
    summary = run_batch(photos, out, request, workers=workers, progress=progress)
    wall = time.perf_counter() - start
    if summary.failed:
        raise SystemExit(f"batch with {workers} workers: {summary.failures[0][0]}: {summary.failures[0][1]}")
    steady = (len(finished) - 1) / (finished[-1] - finished[0]) if len(finished) > 1 and finished[-1] > finished[0] \
        else math.nan
    return wall, steady, summary.done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--megapixels", type=float, default=8.0)
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--workers", default="1,2,3", help="worker counts, one row each")
    ap.add_argument("--precision", default="bf16")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for the array row")
    args = ap.parse_args(argv)

    import restora
    from restora.io import read_image

    request = {"task": "denoise", "sigma": 25.0, "device": args.device, "precision": args.precision}
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "photos"
        width, height = make_photos(photos, args.photos, args.megapixels)
        mp = width * height / 1e6
        first = next(iter(sorted(photos.iterdir())))
        pixels = read_image(first).pixels

        def array() -> None:
            restora.restore(pixels, **request)

        best = _best(array, args.repeat, args.device)  # after a warm-up (model load, device start)
        array_rate = 1 / best
        device = args.device
        if device.startswith("cuda"):
            import torch

            device = f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
        print(f"# {device}, {args.photos} JPEGs of {width}x{height} ({mp:.2f} MP), denoise_color sigma 25, "
              f"{args.precision}\n")
        print("| run | wall (s) | photos / s (steady) | MP / s (steady) | steady / array |")
        print("|---|---:|---:|---:|---:|")
        print(f"| network on an array (in process, best of {args.repeat}) | {best:.2f} per photo | "
              f"{array_rate:.2f} | {array_rate * mp:.1f} | 1.00 |", flush=True)
        for workers in (int(w) for w in args.workers.split(",")):
            wall, steady, done = time_batch(photos, Path(tmp) / f"out_{workers}", request, workers)
            print(f"| batch, {workers} worker{'s' if workers > 1 else ''} ({done} photos) | {wall:.1f} | "
                  f"{steady:.2f} | {steady * mp:.1f} | {steady / array_rate:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
