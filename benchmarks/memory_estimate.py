"""Calibrate the memory estimate that the decode budget and the web job budget reserve.

For each case, ``restora restore`` runs in its own process on generated images of two or more
sizes; its peak RSS (``ru_maxrss`` from ``wait4``) grows with the pixels, and the slope
between the smallest and the largest size (bytes per pixel, the fixed cost of imports and
networks removed) is what each pixel costs. That is compared with
:func:`restora.io._sniff.decode_bytes` (the CLI's decode budget) and
:func:`restora.web.jobs.job_memory` (the web server's reservation), per pixel.

    nice -n 15 .venv/bin/python benchmarks/memory_estimate.py --megapixels 2 8
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from restora.io._sniff import decode_bytes
from restora.web.jobs import job_memory

# name -> (PIL mode written, channels decoded, restore arguments)
CASES = {
    "1-bit PNG, black (the bomb), auto": ("1", 1, []),
    "8-bit gray PNG, noisy, auto": ("L", 1, []),
    "RGB PNG, noisy, auto": ("RGB", 3, []),
    "RGB PNG, noisy, --task denoise --sigma 15": ("RGB", 3, ["--task", "denoise", "--sigma", "15"]),
    "RGB PNG, noisy, --scale 2 (auto + x2)": ("RGB", 3, ["--scale", "2"]),
}


def make(path: Path, mode: str, side: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    if mode == "1":
        Image.new("1", (side, side)).save(path)
        return
    shape = (side, side) if mode == "L" else (side, side, 3)
    ramp = np.linspace(40, 200, side, dtype=np.float32)[None, :]
    base = np.broadcast_to(ramp if mode == "L" else ramp[..., None], shape)
    noisy = np.clip(base + rng.normal(0, 12, shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy, mode).save(path)


def peak_rss(args: list[str]) -> int:
    """Peak resident bytes of ``restora`` run with ``args`` in a child process."""
    proc = subprocess.Popen([sys.executable, "-m", "restora.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"restora {' '.join(args)} failed: {proc.stderr.read().decode()[-400:]}")
    return usage.ru_maxrss * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[2.0, 8.0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    print("| case | MP (peak RSS, MiB) | measured B/px (slope) | decode_bytes B/px | job_memory B/px | job_memory / measured |")
    print("|---|---|---|---|---|---|")
    sizes = sorted(args.megapixels)
    if len(sizes) < 2:
        parser.error("give at least two --megapixels sizes (the slope between them is measured)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.cases:
            mode, channels, extra = CASES[name]
            scale = int(extra[extra.index("--scale") + 1]) if "--scale" in extra else 1
            common = [*extra, "--threads", str(args.threads), "--overwrite"]
            peaks: list[tuple[int, int]] = []
            for mp in sizes:
                side = round((mp * 1e6) ** 0.5)
                image = folder / f"in_{side}.png"
                make(image, mode, side)
                peaks.append((side, peak_rss(["restore", str(image), "-o", str(folder / "out.png"), *common])))
                image.unlink()
            (s0, p0), (s1, p1) = peaks[0], peaks[-1]
            measured = max(p1 - p0, 1) / (s1 * s1 - s0 * s0)
            estimate = decode_bytes(s1, s1, channels, 1) / (s1 * s1)
            reserved = job_memory(s1, s1, channels, 8, scale) / (s1 * s1)
            shown = ", ".join(f"{s * s / 1e6:.1f}: {p / 2**20:.0f}" for s, p in peaks)
            print(f"| {name} | {shown} | {measured:.1f} | {estimate:.1f} | {reserved:.1f} | "
                  f"{reserved / measured:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
