"""PSNR / NIQE trade-off plot and side-by-side crop figure from ``deblur_table.py`` output.

    .venv/bin/python benchmarks/deblur_table.py --niqe --json runs/bench/deblur_set3c.json \
        --crops runs/bench/deblur_crops
    .venv/bin/python benchmarks/tradeoff_figure.py runs/bench/deblur_set3c.json [more.json ...] \
        --crops runs/bench/deblur_crops [--crop-box 64,64,112] [--name deblur]

Writes ``docs/figures/deblur_tradeoff.png`` (one point per method and noise level: PSNR up
is more faithful, NIQE down is more natural-looking) and ``docs/figures/deblur_crops.png``
(the same crop of every method's output, nearest-neighbour enlarged 2x, labelled).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIGURES = REPO / "docs" / "figures"
LABELS = {
    "blurred": "blurred input", "wiener": "Wiener", "richardson_lucy": "Richardson-Lucy",
    "pnp_tv": "PnP + TV", "pnp_restora": "PnP + restora denoiser", "pnp_ffdnet": "PnP + FFDNet (official)",
    "diffpir": "DiffPIR + restora prior", "dps": "DPS + restora prior", "clean": "ground truth",
}


def tradeoff(report: dict, path: Path) -> None:
    """One point per method (colour) and noise level (marker), legend on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(8.6, 4.4), dpi=110)
    markers = {"2.55": "o", "7.65": "s"}
    colours = plt.get_cmap("tab10").colors
    handles = []
    for i, (name, by_sigma) in enumerate(report["rows"].items()):
        points = [(sigma, row) for sigma, row in by_sigma.items() if row.get("niqe") is not None]
        if not points:
            continue
        colour = colours[i % len(colours)]
        for sigma, row in points:
            ax.scatter(row["niqe"], row["psnr"], marker=markers.get(sigma, "^"), s=46, color=colour)
        base, _, subset = name.partition(" [")
        label = LABELS.get(base, base) + (f" [{subset}" if subset else "")
        handles.append(Line2D([], [], color=colour, marker="o", linestyle="", label=label))
    for sigma, marker in markers.items():
        handles.append(Line2D([], [], color="black", markerfacecolor="none", marker=marker, linestyle="",
                              label=f"noise sigma {sigma}"))
    ax.set_xlabel("NIQE (lower = more natural)")
    ax.set_ylabel("PSNR (dB, higher = more faithful)")
    ax.invert_xaxis()
    kernels = report["kernels"]
    if isinstance(kernels, list):
        kernels = f"{kernels[0]}-{kernels[-1]}" if kernels == list(range(kernels[0], kernels[-1] + 1)) else kernels
    pairs = f", {report['pairs']} image/kernel pairs" if "pairs" in report else ""
    ax.set_title(f"Deblurring, {report['dataset']} ({report['images']} images{pairs}) x Levin kernels "
                 f"{kernels}: up and right is better", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def crops(folder: Path, path: Path, *, box: tuple[int, int, int] = (64, 64, 112)) -> None:
    import numpy as np
    from PIL import Image

    from restora.bench.figures import crop_strip

    order = ["clean", "blurred", "wiener", "pnp_tv", "pnp_restora", "pnp_ffdnet", "diffpir", "dps"]
    images = {LABELS.get(n, n): np.asarray(Image.open(folder / f"{n}.png").convert("RGB"))
              for n in order if (folder / f"{n}.png").is_file()}
    crop_strip(images, path, box=box)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", type=Path, nargs="+", help="deblur_table.py --json outputs (rows merged)")
    ap.add_argument("--crops", type=Path, default=None, help="deblur_table.py --crops folder")
    ap.add_argument("--crop-box", default="64,64,112", help="TOP,LEFT,SIZE of the crop, pixels")
    ap.add_argument("--figures", type=Path, default=FIGURES, help="output folder")
    ap.add_argument("--name", default="deblur", help="figure names: NAME_tradeoff.png, NAME_crops.png")
    args = ap.parse_args(argv)
    report = json.loads(args.reports[0].read_text())
    for extra in map(json.loads, (r.read_text() for r in args.reports[1:])):
        same = extra["kernels"] == report["kernels"] and extra["images"] == report["images"]
        for name, by_sigma in extra["rows"].items():  # label points measured on a subset
            key = name if same else f"{name} [kernels {extra['kernels']}, {extra['images']} images]"
            report["rows"].setdefault(key, {}).update(by_sigma)
    written = [args.figures / f"{args.name}_tradeoff.png"]
    tradeoff(report, written[0])
    if args.crops is not None:
        written.append(args.figures / f"{args.name}_crops.png")
        top, left, size = (int(v) for v in args.crop_box.split(","))
        crops(args.crops, written[1], box=(top, left, size))
    print("wrote " + " and ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
