"""Tables and plots for restora's shipped default models, against the official weights.

Every row goes through ``restora.bench.evaluate`` (the code path of ``restora eval``), with
the paper protocols (see ``restora.bench.evaluate``); the official DnCNN / FFDNet weights
from ../shared/weights are loaded by restora's loader in the same run. Published numbers
(BM3D/CBM3D, SRCNN, DnCNN-3 on LIVE1 ...) are printed beside them, labelled as published.

    .venv/bin/python benchmarks/default_models.py denoise            # BSD68 / CBSD68, 15/25/50
    .venv/bin/python benchmarks/default_models.py deblock            # classic5 + LIVE1 (Y), q10-40
    .venv/bin/python benchmarks/default_models.py upscale            # Set5 / Set14 / B100, x2 x4
    .venv/bin/python benchmarks/default_models.py sweep --limit 12   # PSNR vs sigma / quality plots

``--limit N`` scores the first N images of each set only. Results are printed as Markdown
and written as JSON to ``--out`` (default ``runs/bench``); plots go to ``docs/figures``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "datasets"
WEIGHTS = SHARED / "weights"
FIGURES = REPO / "docs" / "figures"

PUBLISHED_DENOISE = {  # BSD68 gray / CBSD68 colour, sigma 15 / 25 / 50
    ("bsd68_gray", "BM3D (published)"): (31.07, 28.57, 25.62),
    ("bsd68_gray", "DRUNet (published)"): (31.91, 29.48, 26.59),
    ("cbsd68", "CBM3D (published)"): (33.52, 30.71, 27.38),
    ("cbsd68", "DRUNet (published)"): (34.30, 31.69, 28.51),
}
PUBLISHED_DEBLOCK = {  # q10 / 20 / 30 / 40, gray
    ("classic5", "DnCNN-3 (published)"): (29.40, 31.63, 32.91, 33.77),
    ("live1_gray", "DnCNN-3 (published)"): (29.19, 31.59, 32.98, 33.96),
    ("classic5", "DRUNet (published)"): (30.16, 32.39, 33.59, 34.41),
    ("live1_gray", "DRUNet (published)"): (29.79, 32.17, 33.59, 34.58),
}
PUBLISHED_SR_X4 = {"SRCNN (published)": {"set5": 30.48, "set14": 27.50, "b100": 26.90},
                   "EDSR (published)": {"set5": 32.46, "set14": 28.80, "b100": 27.71}}
SIGMAS = (15, 25, 50)
QUALITIES = (10, 20, 30, 40)


def _eval(method, folder, *, model=None, limit=None, **level) -> tuple[float, float, float]:
    """(mean PSNR, mean SSIM, seconds) of one row through restora.bench.evaluate."""
    from restora.bench import evaluate

    t0 = time.perf_counter()
    result = evaluate(method, folder, model=model, limit=limit, **level)
    return result.mean_psnr, result.mean_ssim, time.perf_counter() - t0


def _input_psnr(folder: Path, *, task: str, limit: int | None, **level) -> float:
    """Mean PSNR of the degraded input itself (JPEG decoded), same protocol."""
    from restora.bench.evaluate import degrade_for_protocol, list_dataset
    from restora.io import from_float32, read_image
    from restora.metrics import psnr

    scores = []
    for i, path in enumerate(list_dataset(folder)[:limit]):
        clean = read_image(path).pixels
        ref, deg = degrade_for_protocol(clean, task=task, index=i, seed=0, sigma=None, scale=None,
                                        kernel=None, **level)
        scores.append(psnr(from_float32(ref, np.uint8), from_float32(np.clip(deg, 0, 1), np.uint8)))
    return float(np.mean(scores))


def _gray_copy(folder: Path, dest: Path) -> Path:
    """Y-channel copies (MATLAB ``rgb2ycbcr`` Y, [16, 235], uint8 PNG) of a colour set: the
    gray images of the DnCNN-3 / ARCNN deblocking protocol (their LIVE1 JPEG rows)."""
    from restora.bench.evaluate import list_dataset
    from restora.color import rgb_to_ycbcr
    from restora.io import read_image, write_image

    dest.mkdir(parents=True, exist_ok=True)
    for path in list_dataset(folder):
        gray = rgb_to_ycbcr(read_image(path).pixels, y_only=True)
        write_image(np.clip(np.rint(gray * 255), 0, 255).astype(np.uint8), dest / f"{path.stem}.png")
    return dest


def _table(title: str, header: list[str], rows: list[tuple[str, list[float | None]]]) -> str:
    lines = [f"### {title}", "", "| method | " + " | ".join(header) + " |",
             "|---|" + "---|" * len(header)]
    for name, values in rows:
        cells = ["-" if v is None else f"{v:.2f}" for v in values]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def denoise(args: argparse.Namespace) -> dict:
    out: dict = {}
    for folder, official in (("bsd68_gray", [("DnCNN-S (official, per sigma)", "dncnn/dncnn_gray_sigma{s}.mat"),
                                             ("FFDNet (official)", "ffdnet/FFDNet_gray.mat")]),
                             ("cbsd68", [("CDnCNN (official, per sigma)", "dncnn/dncnn_color_sigma{s}.mat"),
                                         ("FFDNet (official)", "ffdnet/FFDNet_color.mat")])):
        rows: dict[str, list[float | None]] = {}
        for s in SIGMAS:
            psnr_, _, sec = _eval(None, DATA / folder, task="denoise", sigma=s, limit=args.limit)
            rows.setdefault("restora default", []).append(psnr_)
            print(f"{folder} sigma {s} restora default {psnr_:.3f} ({sec:.0f} s)", flush=True)
            for name, pattern in official:
                weight = WEIGHTS / pattern.format(s=s)
                value = None
                if weight.is_file() and not args.skip_official:
                    value, _, sec = _eval(None, DATA / folder, model=weight, task="denoise", sigma=s,
                                          limit=args.limit)
                    print(f"{folder} sigma {s} {name} {value:.3f} ({sec:.0f} s)", flush=True)
                rows.setdefault(name, []).append(value)
        for (f, name), values in PUBLISHED_DENOISE.items():
            if f == folder:
                rows[name] = list(values)
        out[folder] = rows
        print(_table(f"{folder}, Gaussian denoising (PSNR dB)", [f"sigma {s}" for s in SIGMAS],
                     list(rows.items())), flush=True)
    return out


def deblock(args: argparse.Namespace) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"classic5": DATA / "classic5", "live1_gray": _gray_copy(DATA / "live1", Path(tmp) / "live1_gray")}
        for name, folder in sets.items():
            rows: dict[str, list[float | None]] = {}
            for q in QUALITIES:
                rows.setdefault("JPEG input", []).append(
                    _input_psnr(folder, task="deblock", limit=args.limit, quality=q))
                value, _, sec = _eval(None, folder, task="deblock", quality=q, limit=args.limit)
                rows.setdefault("restora default", []).append(value)
                print(f"{name} q{q} restora default {value:.3f} ({sec:.0f} s)", flush=True)
                weight = WEIGHTS / "dncnn" / "dncnn3_blind.mat"
                dn = None
                if weight.is_file() and not args.skip_official:
                    dn, _, sec = _eval(None, folder, model=weight, task="deblock", quality=q, limit=args.limit)
                    print(f"{name} q{q} DnCNN-3 {dn:.3f} ({sec:.0f} s)", flush=True)
                rows.setdefault("DnCNN-3 (official)", []).append(dn)
            for (f, label), values in PUBLISHED_DEBLOCK.items():
                if f == name:
                    rows[label] = list(values)
            out[name] = rows
            print(_table(f"{name}, JPEG deblocking, gray (PSNR dB)", [f"q{q}" for q in QUALITIES],
                         list(rows.items())), flush=True)
    return out


def upscale(args: argparse.Namespace) -> dict:
    out: dict = {}
    sets = ("set5", "set14", "b100")
    for scale in args.scales:
        rows: dict[str, list[float | None]] = {}
        for name in sets:
            value, _, sec = _eval("bicubic", DATA / name, task="upscale", scale=scale, limit=args.limit)
            rows.setdefault("bicubic (MATLAB)", []).append(value)
            value, _, sec = _eval(None, DATA / name, task="upscale", scale=scale, limit=args.limit)
            rows.setdefault("restora default", []).append(value)
            print(f"{name} x{scale} restora default {value:.3f} ({sec:.0f} s)", flush=True)
            if scale == 4 and not args.skip_real:
                value, _, _ = _eval(None, DATA / name, model="upscale_real_x4", task="upscale", scale=4,
                                    limit=args.limit)
                rows.setdefault("restora upscale_real_x4 (blind, real photos)", []).append(value)
        if scale == 4:
            for label, values in PUBLISHED_SR_X4.items():
                rows[label] = [values[n] for n in sets]
        out[f"x{scale}"] = rows
        print(_table(f"x{scale} super-resolution, Y-PSNR (dB), crop = scale", list(sets),
                     list(rows.items())), flush=True)
    return out


def _plot(path: Path, title: str, xlabel: str, curves: dict[str, tuple[list[float], list[float]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for label, (xs, ys) in curves.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=label, linewidth=2 if "restora" in label else 1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def sweep(args: argparse.Namespace) -> dict:
    """One blind model per task over the whole range, against per-level official models."""
    out: dict = {"limit": args.limit}
    sigmas = [5, 10, 15, 20, 25, 30, 40, 50]
    folder = DATA / "bsd68_gray"
    curves: dict[str, tuple[list[float], list[float]]] = {}
    models = [("restora default (blind)", None)] + [
        (f"DnCNN-S sigma {s} (official)", WEIGHTS / f"dncnn/dncnn_gray_sigma{s}.mat") for s in SIGMAS]
    for label, weight in models:
        if weight is not None and (args.skip_official or not weight.is_file()):
            continue
        ys = [_eval(None, folder, model=weight, task="denoise", sigma=s, limit=args.limit)[0] for s in sigmas]
        curves[label] = (sigmas, ys)
        print(label, " ".join(f"{y:.2f}" for y in ys), flush=True)
    out["denoise"] = {k: v[1] for k, v in curves.items()}
    out["sigmas"] = sigmas
    _plot(FIGURES / "denoise_sigma_sweep.png",
          f"BSD68 gray (first {args.limit} images): one blind model vs per-sigma models",
          "noise sigma (8-bit units)", curves)
    qualities = [10, 20, 30, 40, 60, 80, 90]
    folder = DATA / "classic5"
    curves = {"JPEG input": (qualities, [_input_psnr(folder, task="deblock", limit=None, quality=q)
                                         for q in qualities])}
    curves["restora default (blind)"] = (qualities, [
        _eval(None, folder, task="deblock", quality=q)[0] for q in qualities])
    weight = WEIGHTS / "dncnn" / "dncnn3_blind.mat"
    if weight.is_file() and not args.skip_official:
        curves["DnCNN-3 (official, blind)"] = (qualities, [
            _eval(None, folder, model=weight, task="deblock", quality=q)[0] for q in qualities])
    for label, (_, ys) in curves.items():
        print(label, " ".join(f"{y:.2f}" for y in ys), flush=True)
    out["deblock"] = {k: v[1] for k, v in curves.items()}
    out["qualities"] = qualities
    _plot(FIGURES / "deblock_quality_sweep.png", "classic5 (gray): JPEG deblocking over quality",
          "JPEG quality", curves)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("denoise", "deblock", "upscale", "sweep"))
    parser.add_argument("--limit", type=int, default=None, help="first N images per set")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scales", type=int, nargs="*", default=[2, 4])
    parser.add_argument("--skip-official", action="store_true", help="only restora's models")
    parser.add_argument("--skip-real", action="store_true", help="leave out upscale_real_x4")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"needs {DATA}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    result = {"denoise": denoise, "deblock": deblock, "upscale": upscale, "sweep": sweep}[args.what](args)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"default_models_{args.what}.json").write_text(json.dumps(result, indent=2))
    print(f"done in {result['seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
