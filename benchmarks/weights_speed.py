"""Trained colour-denoiser weight files against the shipped default and FFDNet, one run.

The ``speed_table`` 2 MP photo (1632x1224, AWGN sigma 25, seed 0), 2 CPU threads, through
``restora.restore`` (restora's tiles, engine and padding), best of ``--repeat`` interleaved
rounds after a warm-up: the shipped ``denoise_color`` at ``--precision auto``, each file of
``--models`` at ``bf16`` and ``fp32`` (a file outside the package has no recorded bf16 loss,
so ``auto`` would run it in fp32), and the official FFDNet colour weights in torch fp32 as
published (the reference of the ratios; ``../shared/weights/kair``). The PSNR column is the
photo's own (RGB, uint8 output), a check that the files compute what they should, not a
benchmark score.

    .venv/bin/python benchmarks/weights_speed.py --models runs/denoise_color_unshuffled_s3/model.safetensors
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", required=True, help="colour denoiser weight files")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from speed_table import KAIR, THREADS, interleaved_best, two_megapixel_image

    import restora

    clean, noisy = two_megapixel_image()
    megapixels = noisy.shape[0] * noisy.shape[1] / 1e6
    common = {"sigma": 25, "threads": THREADS}
    reference = "official FFDNet colour, torch fp32 as published"
    rows = {"shipped `denoise_color`, `--precision auto`":
            lambda: restora.restore(noisy, task="denoise", **common)}
    for path in args.models:
        for precision in ("bf16", "fp32"):
            rows[f"`{path}`, {precision}"] = (
                lambda p=path, q=precision: restora.restore(noisy, model=p, precision=q, **common))
    rows[reference] = lambda: restora.restore(noisy, model=str(KAIR / "ffdnet_color.pth"),
                                              precision="fp32", backend="torch", **common)
    outputs = {name: run() for name, run in rows.items()}  # warm-up (and the PSNR column)
    best = interleaved_best(rows, args.repeat)
    truth = np.rint(clean * 255)
    print(f"# {noisy.shape[1]}x{noisy.shape[0]} photo, sigma 25, {THREADS} threads, best of {args.repeat}\n")
    print("| weights | s / MP | time / FFDNet torch fp32's | PSNR on the photo |")
    print("|---|---:|---:|---:|")
    for name, seconds in best.items():
        mse = np.mean((np.clip(np.rint(outputs[name] * 255), 0, 255) - truth) ** 2)
        print(f"| {name} | {seconds / megapixels:.3f} | {seconds / best[reference]:.2f} | "
              f"{10 * np.log10(255**2 / mse):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
