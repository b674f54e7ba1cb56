"""One table for x4 (or ``--scale 2``) super-resolution: Set5 / B100 Y-PSNR (paper protocol)
against seconds per output megapixel, every row in the same run on the same image.

Rows: MATLAB bicubic, the shipped default (``upscale_x4`` / ``upscale_x2``, no --model), and any weight file
given with ``--model NAME=PATH`` (an earlier restora network, or a published model file:
restora's loaders or spandrel read it). PSNR: ``restora.bench.evaluate`` (HR cropped to a
multiple of the scale, LR = MATLAB ``imresize(HR, 1/scale)`` on uint8, Y BT.601, border =
scale). Speed: one 256x256 RGB image upscaled through ``restora.restore`` (the runner users run,
networks tiled as by default), the best of ``--repeat`` runs after a warm-up, in fp32 and
with ``--precision auto`` (bf16 on CPUs with AMX / AVX512-BF16 for models whose recorded
bf16 loss is within 0.02 dB; fp32 for files without a record); ``--precisions fp32 bf16``
times every network in bf16 instead of auto (candidates compared as they would ship). PSNR
is computed in fp32.

    .venv/bin/python benchmarks/upscale_table.py --threads 2 \
        --model "EDSR 8x48 (previous default)=/tmp/upscale_x4_edsr.safetensors"
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import restora
from restora.bench import evaluate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SETS = ("set5", "b100")


def _image(side: int = 256) -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[::2, ::2][:side, :side])


def _seconds(run, repeat: int) -> float:
    run()  # warm-up: networks loaded, kernels chosen
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="an extra row: a weight file restora can load")
    parser.add_argument("--scale", type=int, default=4, choices=(2, 4))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="images per set (default: all)")
    parser.add_argument("--precisions", nargs=2, default=("fp32", "auto"), metavar="P",
                        choices=("fp32", "bf16", "auto"), help="the two timed precisions")
    args = parser.parse_args(argv)

    rows: list[tuple[str, dict]] = [("bicubic (MATLAB)", {"method": "bicubic"}),
                                    (f"restora default `upscale_x{args.scale}`", {})]
    for item in args.model:
        name, _, path = item.partition("=")
        rows.append((name, {"model": path}))
    image = _image()
    out_mp = image.shape[0] * image.shape[1] * args.scale**2 / 1e6
    common = {"task": "upscale", "scale": args.scale, "threads": args.threads}
    first, second = args.precisions
    print(f"| x{args.scale} | Set5 Y-PSNR | B100 Y-PSNR | s per output MP, {first} ({args.threads} threads) | "
          f"{first} time vs default | s per output MP, --precision {second} | {second} time vs default |")
    print("|---|---|---|---|---|---|---|")
    results = []
    for name, options in rows:
        psnr = []
        for dataset in SETS:
            folder = DATA / dataset
            method = options.get("method")
            extra = {k: v for k, v in options.items() if k != "method"}
            psnr.append(evaluate(method, folder, limit=args.limit, precision="fp32", **common,
                                 **extra).mean_psnr)
        speeds = [_seconds(lambda o=options, p=p: restora.restore(image, precision=p, **common, **o),
                           args.repeat) / out_mp for p in args.precisions]
        results.append((name, psnr, speeds))
    base_first, base_second = results[1][2]
    for name, psnr, (s_first, s_second) in results:
        print(f"| {name} | {psnr[0]:.2f} | {psnr[1]:.2f} | {s_first:.3f} | {s_first / base_first:.2f}x | "
              f"{s_second:.3f} | {s_second / base_second:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
