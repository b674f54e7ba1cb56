"""PSNR / NIQE trade-off plot and side-by-side crop figure from ``deblur_table.py`` output.

    .venv/bin/python benchmarks/deblur_table.py --niqe --json runs/bench/deblur_set3c.json \
        --crops runs/bench/deblur_crops
    .venv/bin/python benchmarks/tradeoff_figure.py runs/bench/deblur_set3c.json runs/bench/deblur_crops

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
    "diffpir": "DiffPIR + restora prior", "clean": "ground truth",
}


def tradeoff(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    markers = {"2.55": "o", "7.65": "s"}
    for name, by_sigma in report["rows"].items():
        for sigma, row in by_sigma.items():
            if row.get("niqe") is None:
                continue
            ax.scatter(row["niqe"], row["psnr"], marker=markers.get(sigma, "^"), s=40)
            ax.annotate(f"{LABELS.get(name, name)} ({sigma})", (row["niqe"], row["psnr"]),
                        fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.set_xlabel("NIQE (lower = more natural)")
    ax.set_ylabel("PSNR (dB, higher = more faithful)")
    ax.invert_xaxis()
    ax.set_title(f"Deblurring, {report['dataset']} x Levin kernels (noise sigma in brackets)", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def crops(folder: Path, path: Path, *, box: tuple[int, int, int] = (64, 64, 112)) -> None:
    from PIL import Image, ImageDraw

    top, left, size = box
    order = ["clean", "blurred", "wiener", "pnp_tv", "pnp_restora", "pnp_ffdnet", "diffpir"]
    names = [n for n in order if (folder / f"{n}.png").is_file()]
    tiles = []
    for name in names:
        img = Image.open(folder / f"{name}.png").convert("RGB")
        tile = img.crop((left, top, left + size, top + size)).resize((2 * size, 2 * size), Image.NEAREST)
        tiles.append((LABELS.get(name, name), tile))
    pad, label_h = 6, 16
    width = len(tiles) * (2 * size + pad) + pad
    canvas = Image.new("RGB", (width, 2 * size + label_h + 2 * pad), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (label, tile) in enumerate(tiles):
        x = pad + i * (2 * size + pad)
        canvas.paste(tile, (x, label_h + pad))
        draw.text((x, 2), label, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("crops", type=Path)
    args = ap.parse_args(argv)
    tradeoff(json.loads(args.report.read_text()), FIGURES / "deblur_tradeoff.png")
    crops(args.crops, FIGURES / "deblur_crops.png")
    print(f"wrote {FIGURES / 'deblur_tradeoff.png'} and {FIGURES / 'deblur_crops.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
