"""DiffPIR through the CLI in fp32 and in bf16 on the CPU: the same result within 0.1 dB?

For each Set3C image, blurred by Levin's kernel 1 (circular, as the deblurring tables) with
noise sigma 2.55 and written as an 8-bit PNG, runs
``restora restore blurred.png -o out.png --task deblur --kernel k.npy --method diffpir
--device cpu [--precision bf16] -O boundary=circular`` through ``restora.cli.main`` and
reports PSNR (RGB, 8-bit) and seconds, side by side in one run.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/diffpir_precision.py [--limit N] [--json F]
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
PRECISIONS = ("fp32", "bf16")


def run(limit: int | None, kernel_id: int, device: str) -> dict:
    files = sorted((SHARED / "set3c").glob("*.png"))[:limit]
    with np.load(SHARED / "blur_kernels_levin09" / "levin09_kernels.npz") as bank:
        kernel = bank[f"kernel_{kernel_id}"].astype(np.float64)
    kernel /= kernel.sum()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        np.save(work / "k.npy", kernel)
        for index, path in enumerate(files):
            clean = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255
            noisy = degrade.add_gaussian_noise(degrade.blur(clean, kernel, boundary="circular"),
                                               SIGMA, seed=index)
            source = work / "blurred.png"
            Image.fromarray(np.rint(np.clip(noisy, 0, 1) * 255).astype(np.uint8)).save(source)
            ref = np.rint(clean * 255).astype(np.uint8)
            row = {"image": path.name, "blurred": psnr(ref, read_image(source).pixels)}
            for precision in PRECISIONS:
                out = work / f"{precision}.png"
                start = time.perf_counter()
                code = cli(["restore", str(source), "-o", str(out), "--task", "deblur", "--kernel",
                            str(work / "k.npy"), "--method", "diffpir", "--device", device,
                            "--precision", precision, "-O", "boundary=circular"])
                row[f"{precision}_seconds"] = time.perf_counter() - start
                assert code == 0, f"diffpir failed on {path.name} ({precision})"
                row[precision] = psnr(ref, read_image(out).pixels)
            rows.append(row)
            print(json.dumps(row), flush=True)
    means = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "image"}
    return {"rows": rows, "mean": means, "kernel": kernel_id, "sigma": SIGMA, "device": device,
            "machine": platform.processor() or platform.machine()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--kernel", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report = run(args.limit, args.kernel, args.device)
    print("| image | blurred | fp32 | bf16 | bf16 - fp32 | s fp32 | s bf16 |\n|---|---|---|---|---|---|---|")
    for r in report["rows"] + [{"image": "**mean**", **report["mean"]}]:
        print(f"| {r['image']} | {r['blurred']:.2f} | {r['fp32']:.2f} | {r['bf16']:.2f} | "
              f"{r['bf16'] - r['fp32']:+.3f} | {r['fp32_seconds']:.1f} | {r['bf16_seconds']:.1f} |")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
