"""Network inference through restora: overhead vs a bare forward pass, and a 40 MP image.

(a) ``speed``: DnCNN on a synthetic noisy 1024x768 gray PNG. ``restora.restore_file`` (file
    in -> file out: decode, float conversion, tiling, runner, encode) against a bare
    ``model(x)`` on the same image as one tensor, best of ``--repeat`` runs each; prints the
    overhead ratio and seconds per megapixel. Also restora at ``--tile 512`` (the classical
    default, which recomputes the 68-pixel overlaps of DnCNN many times).
(b) ``big``: a synthetic 7300x5500 (40 MP) gray PNG denoised by ``restora restore`` in a
    subprocess; peak resident memory of that process from ``/usr/bin/time -v`` (Maximum
    resident set size) and wall time.
(c) ``tiled``: tiled (default tile/overlap) vs whole-image DnCNN on 2000x1500: max |diff|.

Weights: ``../shared/weights/dncnn/dncnn_gray_sigma25.mat`` when present, else a random
DnCNN of the same size (17 layers, 64 features; same cost, meaningless output).

    .venv/bin/python benchmarks/model_inference.py                  # speed + tiled
    .venv/bin/python benchmarks/model_inference.py --part big       # 40 MP run (minutes)
    .venv/bin/python benchmarks/model_inference.py --part speed --tile 512 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OFFICIAL = REPO.parent / "shared" / "weights" / "dncnn" / "dncnn_gray_sigma25.mat"


def weights(folder: Path, depth: int | None = None) -> Path:
    """The official gray sigma=25 DnCNN, or a random 64-feature one of ``depth`` layers (17
    when the official file is absent) saved in ``folder``."""
    if OFFICIAL.is_file() and depth is None:
        return OFFICIAL
    import torch

    from restora.archs import DnCNN

    torch.manual_seed(0)
    path = folder / f"random_dncnn{depth or 17}.pth"
    torch.save(DnCNN(1, 1, 64, depth or 17).state_dict(), path)
    return path


def noisy_gray(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth synthetic scene plus Gaussian noise (sigma 25/255), uint8, built row-block-wise."""
    rng = np.random.default_rng(seed)
    out = np.empty((height, width), np.uint8)
    x = np.linspace(0, 6 * np.pi, width, dtype=np.float32)
    for y0 in range(0, height, 512):
        y = np.linspace(0, 4 * np.pi, height, dtype=np.float32)[y0 : y0 + 512, None]
        clean = 0.5 + 0.35 * np.sin(x[None] + y) * np.cos(0.7 * y)
        noisy = clean + rng.normal(0, 25 / 255, clean.shape).astype(np.float32)
        out[y0 : y0 + 512] = np.clip(np.rint(noisy * 255), 0, 255).astype(np.uint8)
    return out


def save_png(array: np.ndarray, path: Path) -> Path:
    from PIL import Image

    Image.fromarray(array).save(path, compress_level=1)
    return path


def part_speed(folder: Path, repeat: int, tiles: list[int | None]) -> None:
    import torch

    import restora
    from restora.models import load_model

    w = weights(folder)
    src = save_png(noisy_gray(768, 1024), folder / "in_1024x768.png")
    mp = 1024 * 768 / 1e6
    model = load_model(w)
    x = torch.from_numpy(np.asarray(__import__("PIL.Image").Image.open(src), np.float32) / 255)[None, None]

    def bare() -> None:
        with torch.inference_mode():
            model.model(x)

    # name -> callable; run round-robin (every variant once per round, best of ``repeat``
    # rounds) so that load from other processes on a shared machine hits all variants alike.
    variants = {"bare `model(x)` (one tensor, no I/O)": bare}
    for tile in tiles:
        label = "auto (1024)" if tile is None else str(tile)
        out = folder / f"out_{label.split()[0]}.png"
        variants[f"`restora.restore_file(model=<loaded>)` PNG->PNG, tile={label}"] = (
            lambda out=out, tile=tile: restora.restore_file(
                src, out, model=model, overwrite=True, tile="auto" if tile is None else tile))
        if tile is None:  # the same, loading the weight file each time (CLI-like)
            variants[f"`restora.restore_file(model={w.suffix} path)` PNG->PNG, tile={label}"] = (
                lambda out=out: restora.restore_file(src, out, model=w, overwrite=True))
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    rows = [(name, min(ts)) for name, ts in times.items()]
    t_bare = rows[0][1]
    print(f"\nweights: {w.name}; image 1024x768 gray ({mp:.3f} MP); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; best of {repeat} interleaved rounds\n")
    print("| path | seconds | s / MP | ratio to bare |")
    print("|---|---:|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {t:.2f} | {t / mp:.2f} | {t / t_bare:.2f} |")


def part_big(folder: Path, height: int, width: int, tile: int | None, depth: int | None) -> None:
    w = weights(folder, depth)
    t = time.perf_counter()
    src = save_png(noisy_gray(height, width), folder / "big.png")
    print(f"made {width}x{height} PNG ({src.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s",
          flush=True)
    out = folder / "big_out.png"
    cmd = ["/usr/bin/time", "-v", str(REPO / ".venv" / "bin" / "restora"), "restore", str(src),
           "-o", str(out), "--model", str(w), "--overlap", "68"]
    if tile is not None:
        cmd += ["--tile", str(tile)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if proc.returncode != 0 or rss is None:
        sys.exit(f"restora restore failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    mp = height * width / 1e6
    print(f"\nweights: {w.name}; command: restora restore big.png -o out.png --model {w.name} --overlap 68"
          + (f" --tile {tile}" if tile else "") + "\n")
    print("| image | wall seconds | s / MP | peak RSS (GiB) |")
    print("|---|---:|---:|---:|")
    print(f"| {width}x{height} gray PNG ({mp:.1f} MP) | {seconds:.0f} | {seconds / mp:.1f} | "
          f"{int(rss.group(1)) / 1024**2:.2f} |")


def part_tiled(folder: Path) -> None:
    import restora
    from restora.models import load_model

    model = load_model(weights(folder))
    image = noisy_gray(1500, 2000, seed=1)
    t = time.perf_counter()
    tiled = restora.restore(image.astype(np.float32) / 255, model=model)
    t_tiled = time.perf_counter() - t
    t = time.perf_counter()
    whole = restora.restore(image.astype(np.float32) / 255, model=model, tile=None)
    t_whole = time.perf_counter() - t
    diff = float(np.abs(tiled - whole).max())
    print("\n| 2000x1500 DnCNN | seconds | max abs diff to whole image |")
    print("|---|---:|---:|")
    print(f"| whole image (tile=None) | {t_whole:.1f} | - |")
    print(f"| tiled (default tile/overlap) | {t_tiled:.1f} | {diff:.2e} ({diff * 255:.4f} / 255) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("speed", "big", "tiled", "all"), default="all")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tile", type=int, action="append", help="restora tile(s) for speed/big (default: auto)")
    parser.add_argument("--size", default="7300x5500", help="WxH of the big image")
    parser.add_argument("--depth", type=int, help="big: a random 64-feature DnCNN of this depth "
                        "(same activation memory per layer as the official one, less compute)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.part in ("speed", "all"):
            part_speed(folder, args.repeat, args.tile or [None, 512])
        if args.part in ("tiled", "all"):
            part_tiled(folder)
        if args.part == "big":
            width, height = (int(v) for v in args.size.lower().split("x"))
            part_big(folder, height, width, (args.tile or [None])[0], args.depth)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
