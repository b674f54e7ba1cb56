"""The gray defaults against the published models they compete with: speed and PSNR, one run.

Issue 17 asks, for each shipped default, quality against seconds per megapixel beside the
published models. ``speed_table.py`` does it for ``denoise_color``; this script does it for
``denoise_gray`` (BSD68 sigma 25; official FFDNet gray, DnCNN-S sigma 25, DnCNN-B) and
``deblock_gray`` (classic5 quality 10; official DnCNN-3). Timings: the luma of the
``speed_table`` 2 MP photo (1632x1224), noisy at sigma 25 or saved as a quality-10 JPEG,
through ``restora.restore`` (restora's tiles, engine and padding), 2 threads, best of
``--repeat`` interleaved rounds after a warm-up; the reference of the ratios is the official
model run by torch in fp32 as published. PSNR: ``restora.bench.evaluate`` on the whole set
(the paper protocol), the shipped sets at ``--precision auto``.

    .venv/bin/python benchmarks/gray_table.py --repeat 3
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_table import (
    DATA,
    KAIR,
    SHARED,
    THREADS,
    interleaved_best,
    two_megapixel_image,
)

DNCNN = SHARED / "weights" / "dncnn"


def _luma(rgb: np.ndarray) -> np.ndarray:
    return (rgb @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)


def _jpeg_q10(gray: np.ndarray) -> np.ndarray:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.rint(np.clip(gray, 0, 1) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=10)
    return np.asarray(Image.open(buffer), np.uint8)


def rows() -> list[tuple[str, str, dict, dict]]:
    """(label, photo, restore options, evaluate's dataset and level) for every row; ``photo``
    names the timed input (``noisy`` or ``jpeg``)."""
    denoise = {"task": "denoise", "sigma": 25}
    deblock = {"task": "deblock", "quality": 10}
    blind = {"task": "denoise"}  # the noise level is the set's (evaluate); the model takes none
    bsd68, classic5 = {"dataset": DATA / "bsd68_gray", "sigma": 25}, {"dataset": DATA / "classic5"}
    return [
        ("restora `denoise_gray`, `--precision auto`", "noisy", denoise, bsd68),
        ("restora `denoise_gray`, `--precision fp32`", "noisy", denoise | {"precision": "fp32"}, bsd68),
        ("official FFDNet gray, torch fp32 as published (reference)", "noisy",
         denoise | {"model": KAIR / "ffdnet_gray.pth", "precision": "fp32", "backend": "torch"}, bsd68),
        ("official FFDNet gray through restora (`--backend auto`)", "noisy",
         denoise | {"model": KAIR / "ffdnet_gray.pth", "precision": "fp32"}, bsd68),
        ("official DnCNN-S sigma 25, torch fp32", "noisy",
         blind | {"model": KAIR / "dncnn_25.pth", "precision": "fp32", "backend": "torch"}, bsd68),
        ("official DnCNN-B (blind), torch fp32", "noisy",
         blind | {"model": KAIR / "dncnn_gray_blind.pth", "precision": "fp32", "backend": "torch"}, bsd68),
        ("restora `deblock_gray`, `--precision auto`", "jpeg", deblock, classic5),
        ("official DnCNN-3 (blind), torch fp32 as published (reference)", "jpeg",
         deblock | {"model": DNCNN / "dncnn3_blind.mat", "precision": "fp32", "backend": "torch"}, classic5),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-psnr", action="store_true")
    args = ap.parse_args(argv)

    import restora
    from restora.bench import evaluate

    clean, _ = two_megapixel_image()
    gray = _luma(clean)
    photos = {"noisy": gray + np.random.default_rng(0).normal(0, 25 / 255, gray.shape).astype(np.float32),
              "jpeg": _jpeg_q10(gray)}
    megapixels = gray.size / 1e6
    table = [r for r in rows() if all(Path(v).is_file() for k, v in r[2].items() if k == "model")]
    missing = len(rows()) - len(table)
    runs = {label: (lambda p=photo, o=options: restora.restore(photos[p], threads=THREADS, **o))
            for label, photo, options, _ in table}
    for run in runs.values():
        run()  # warm-up: graphs exported and compiled, weights loaded
    best = interleaved_best(runs, args.repeat)
    print(f"# 2 MP gray photo (1632x1224), {THREADS} threads, best of {args.repeat}"
          + (f"; {missing} row(s) without their weights left out" if missing else "") + "\n")
    print("| method | s / MP | time / its reference's | PSNR (set, paper protocol) |")
    print("|---|---:|---:|---|")
    references = {photo: best[label] for label, photo, _, _ in table if "reference" in label}
    for label, photo, options, dataset in table:
        ratio = f"{best[label] / references[photo]:.2f}" if photo in references else "-"
        cell = "-"
        if not args.skip_psnr:
            scored = evaluate(None, threads=THREADS, **(options | dataset))
            cell = f"{scored.mean_psnr:.2f} ({Path(dataset['dataset']).name})"
        print(f"| {label} | {best[label] / megapixels:.3f} | {ratio} | {cell} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
