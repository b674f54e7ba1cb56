"""What `restora restore blurred.png --task deblur --kernel k.npy` gives with no method.

For every Set3C image and each of Levin's 8 kernels, at noise sigma 2.55: the blurred image
is written as an 8-bit PNG and the kernel as ``k.npy``, and the command runs through
``restora.cli.main`` (the CLI's own path: decoding, the default table, the noise estimate,
plug-and-play with the shipped denoiser, encoding). The same is done with ``--method wiener``
(the default before the one-runner change). PSNR (RGB, 8-bit) against the clean image.

Two ways of blurring: ``circular`` (periodic, as the deblurring tables and DPIR use) and
``reflect`` (mirrored borders, like a real photo's, which no FFT model matches exactly).

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/deblur_default.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from restora import degrade
from restora.cli import main as cli
from restora.io import read_image
from restora.metrics import psnr

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SIGMA = 2.55


def run(boundaries: list[str], limit: int | None) -> dict:
    files = sorted((SHARED / "set3c").glob("*.png"))[:limit]
    with np.load(SHARED / "blur_kernels_levin09" / "levin09_kernels.npz") as bank:
        kernels = {k: bank[f"kernel_{k}"].astype(np.float64) for k in range(1, 9)}
    rows: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for boundary in boundaries:
            for kid, kernel in kernels.items():
                kernel = kernel / kernel.sum()
                np.save(work / "k.npy", kernel)
                scores: dict[str, list[float]] = {"blurred": [], "wiener": [], "default": []}
                seconds = 0.0
                for index, path in enumerate(files):
                    clean = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255
                    blurred = degrade.blur(clean, kernel, boundary=boundary)
                    noisy = degrade.add_gaussian_noise(blurred, SIGMA, seed=index)
                    source = work / "blurred.png"
                    Image.fromarray(np.rint(np.clip(noisy, 0, 1) * 255).astype(np.uint8)).save(source)
                    ref = np.rint(clean * 255).astype(np.uint8)
                    scores["blurred"].append(psnr(ref, read_image(source).pixels))
                    for label, extra in (("wiener", ["--method", "wiener"]), ("default", [])):
                        out = work / f"{label}.png"
                        start = time.perf_counter()
                        code = cli(["restore", str(source), "-o", str(out), "--task", "deblur",
                                    "--kernel", str(work / "k.npy"), "--overwrite", *extra])
                        if label == "default":
                            seconds += time.perf_counter() - start
                        assert code == 0, f"restora restore failed on {path.name}"
                        scores[label].append(psnr(ref, read_image(out).pixels))
                means = {k: float(np.mean(v)) for k, v in scores.items()}
                means["seconds_per_image"] = seconds / len(files)
                rows[f"{boundary}/{kid}"] = means
                print(f"{boundary} kernel {kid}: " + ", ".join(f"{k} {v:.2f}" for k, v in means.items()),
                      flush=True)
    return {"images": [f.name for f in files], "sigma": SIGMA, "rows": rows,
            "machine": platform.processor() or platform.machine()}


def markdown(report: dict) -> str:
    lines = ["| blur | kernel | blurred input | `--method wiener` | default (no method) | default - input |",
             "|---|---|---|---|---|---|"]
    for key, r in report["rows"].items():
        boundary, kid = key.split("/")
        lines.append(f"| {boundary} | {kid} | {r['blurred']:.2f} | {r['wiener']:.2f} | "
                     f"{r['default']:.2f} | {r['default'] - r['blurred']:+.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boundaries", default="circular,reflect")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report = run(args.boundaries.split(","), args.limit)
    print(markdown(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
