"""Reproduce the published PSNR of the official DnCNN / FFDNet weights with restora's loader.

Runs ``restora.bench.evaluate(model=...)``, the code path of ``restora eval --model PATH``,
with the paper protocol: clean uint8 image / 255, plus Gaussian noise of std sigma/255 (not
clipped; seed = 0-based index of the image in sorted order), denoise, clip to [0, 1], round
to uint8, PSNR over the whole image, mean over the set. JPEG: Pillow ``quality=q`` on the
gray uint8 image, DnCNN-3 applied to the decoded JPEG, PSNR against the original. Needs
../shared (weights, datasets).

    .venv/bin/python benchmarks/reproduce_official.py                 # everything
    .venv/bin/python benchmarks/reproduce_official.py --only dncnn-gray:25 ffdnet-gray:25
    .venv/bin/python benchmarks/reproduce_official.py --limit 3 --per-image
    .venv/bin/python benchmarks/reproduce_official.py --kair          # the KAIR .pth rows only

Prints a markdown table: measured vs published vs difference. MATLAB's noise realisations
differ from ours, so agreement to ~0.02-0.05 dB (not to the digit) is what to expect.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
WEIGHTS = SHARED / "weights"
DATA = SHARED / "datasets"

# name -> (weight file, dataset folder, colour, kind, level, published PSNR)
EXPERIMENTS: dict[str, tuple[str, str, bool, str, int, float]] = {}
for _s, _p in ((15, 31.73), (25, 29.23), (50, 26.23)):
    EXPERIMENTS[f"dncnn-gray:{_s}"] = (f"dncnn/dncnn_gray_sigma{_s}.mat", "bsd68_gray", False, "noise", _s, _p)
for _s, _p in ((15, 33.90), (25, 31.24), (50, 27.95)):
    EXPERIMENTS[f"dncnn-color:{_s}"] = (f"dncnn/dncnn_color_sigma{_s}.mat", "cbsd68", True, "noise", _s, _p)
for _s, _p in ((15, 31.63), (25, 29.19), (50, 26.29)):
    EXPERIMENTS[f"ffdnet-gray:{_s}"] = ("ffdnet/FFDNet_gray.mat", "bsd68_gray", False, "noise", _s, _p)
for _s, _p in ((15, 33.87), (25, 31.21), (50, 27.96)):
    EXPERIMENTS[f"ffdnet-color:{_s}"] = ("ffdnet/FFDNet_color.mat", "cbsd68", True, "noise", _s, _p)
for _q, _p in ((10, 29.40), (20, 31.63), (30, 32.91), (40, 33.77)):
    EXPERIMENTS[f"dncnn3-jpeg:{_q}"] = ("dncnn/dncnn3_blind.mat", "classic5", False, "jpeg", _q, _p)
# The authors' KAIR PyTorch state dicts (legacy pickles, loaded with weights_only=True);
# the same files the model zoo pins (``restora models info dncnn_25`` and so on).
EXPERIMENTS["kair-dncnn_25:25"] = ("kair/dncnn_25.pth", "bsd68_gray", False, "noise", 25, 29.23)
for _s, _p in ((15, 33.89), (25, 31.23), (50, 27.92)):
    EXPERIMENTS[f"kair-dncnn_color_blind:{_s}"] = ("kair/dncnn_color_blind.pth", "cbsd68", True, "noise", _s, _p)
for _s, _p in ((15, 31.61), (25, 29.16), (50, 26.23)):
    EXPERIMENTS[f"kair-dncnn_gray_blind:{_s}"] = ("kair/dncnn_gray_blind.pth", "bsd68_gray", False, "noise", _s, _p)
for _s, _p in ((15, 31.63), (25, 29.19), (50, 26.29)):
    EXPERIMENTS[f"kair-ffdnet_gray:{_s}"] = ("kair/ffdnet_gray.pth", "bsd68_gray", False, "noise", _s, _p)
for _s, _p in ((15, 33.87), (25, 31.21), (50, 27.96)):
    EXPERIMENTS[f"kair-ffdnet_color:{_s}"] = ("kair/ffdnet_color.pth", "cbsd68", True, "noise", _s, _p)
KAIR = [name for name in EXPERIMENTS if name.startswith("kair-")]

# Run order when everything is asked for: the cheap, most important rows first.
DEFAULT_ORDER = [
    "dncnn-gray:25", "ffdnet-gray:25", "dncnn3-jpeg:10", "dncnn3-jpeg:20", "dncnn3-jpeg:30",
    "dncnn3-jpeg:40", "ffdnet-gray:15", "ffdnet-gray:50", "dncnn-gray:15", "dncnn-gray:50",
    "ffdnet-color:25", "dncnn-color:25", "ffdnet-color:15", "ffdnet-color:50",
    "dncnn-color:15", "dncnn-color:50",
]


def run_experiment(name: str, *, limit: int | None, per_image: bool, log: Callable[[str], None]) -> tuple[float, list[float], float]:
    """One row through ``restora.bench.evaluate`` (the code path of ``restora eval --model``)."""
    from restora.bench import evaluate

    weight, folder, _colour, kind, level, _ = EXPERIMENTS[name]
    t0 = time.perf_counter()
    if kind == "noise":
        result = evaluate(None, DATA / folder, model=WEIGHTS / weight, task="denoise", sigma=level, limit=limit)
    else:
        result = evaluate(None, DATA / folder, model=WEIGHTS / weight, task="deblock", quality=level, limit=limit)
    scores = [s.psnr for s in result.images]
    if per_image:
        for s in result.images:
            log(f"  {name} {s.name} {s.psnr:.4f}")
    return result.mean_psnr, scores, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help=f"experiments, of: {', '.join(EXPERIMENTS)}")
    parser.add_argument("--limit", type=int, default=None, help="first N images per set only")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--kair", action="store_true", help="the KAIR state-dict rows only")
    parser.add_argument("--per-image", action="store_true", help="print every image's PSNR")
    args = parser.parse_args(argv)
    if not WEIGHTS.is_dir() or not DATA.is_dir():
        print(f"needs {WEIGHTS} and {DATA}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    names = args.only or (KAIR if args.kair else DEFAULT_ORDER)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiments {unknown}; choose from {list(EXPERIMENTS)}")

    def log(line: str) -> None:
        print(line, flush=True)

    rows = []
    for name in names:
        mean, scores, seconds = run_experiment(name, limit=args.limit, per_image=args.per_image, log=log)
        weight, folder, _, kind, level, published = EXPERIMENTS[name]
        row = f"| {name} | {folder} ({len(scores)}) | {mean:.2f} | {published:.2f} | {mean - published:+.2f} | {seconds:.0f} |"
        rows.append(row)
        log(f"{name}: {mean:.4f} dB over {len(scores)} images (published {published:.2f}, {seconds:.0f} s)")
    log("")
    log("| experiment | set (images) | measured PSNR | published | diff | seconds |")
    log("|---|---|---|---|---|---|")
    for row in rows:
        log(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
