"""Plug-and-play super-resolution (x4, Gaussian kernel) and inpainting (50% pixels) on Set5/Set14.

Protocols (DPIR, Zhang et al., TPAMI 2021, Sec. 5.2; USRNet, CVPR 2020):

* ``sr``: clean = uint8 PNG / 255 as RGB, cropped (top-left) to a multiple of 4;
  ``y = (k * x)[::4, ::4]``: circular convolution with an isotropic Gaussian of std 1.6 px
  (``restora.degrade.gaussian_kernel(1.6)``, 11 x 11), then every 4th pixel from (0, 0);
  **no noise**, ``y`` kept in float (not quantised). Each method gets ``y`` (and the PnP
  rows the true kernel). PSNR on the Y channel (MATLAB BT.601), 4-pixel border cropped, after
  uint8 quantisation. The ``bicubic`` row is ``imresize(y, 4)``: it ignores the blur.
* ``inpaint``: 50% of the pixel positions missing (same positions in all channels),
  ``mask = rng.random((H, W)) >= 0.5`` with ``rng = numpy.random.default_rng(index)``
  (index = image position in the sorted set), no noise. ``masked`` = input with missing
  pixels 0; ``telea`` = ``cv2.inpaint(..., 3, cv2.INPAINT_TELEA)`` on the uint8 input;
  PnP rows use ``pnp_inpaint``. RGB PSNR, whole image, after uint8 quantisation.
* ``demosaic``: clean cropped to even size, ``RGGB`` Bayer mosaic
  (``restora.degrade.MosaicOperator``), no noise; ``bilinear`` = ``bilinear_demosaic``; PnP
  rows ``pnp_demosaic`` (24 iterations, from bilinear). RGB PSNR, whole image, uint8.

Set14's bridge.png (and any gray image) is read as RGB with three equal channels, so the
colour FFDNet runs on it as on every other image.

Rows ``pnp_tv`` / ``pnp_restora`` / ``pnp_ffdnet``: ``restora.methods.pnp`` with the TV
denoiser, restora's shipped ``denoise_color``, or the official FFDNet colour weights (``../shared/weights/ffdnet/FFDNet_color.mat``; skipped
when absent), 24 iterations, DPIR schedule. Row ``diffpir``: DiffPIR with restora's
shipped diffusion prior (``restora.methods.diffusion``, 20 steps, seed 0, the same
operator), not in the default ``--methods``.

    .venv/bin/python benchmarks/pnp_sr_inpaint_table.py [--sets set5,set14] [--tasks sr,inpaint,demosaic]
        [--methods ...] [--limit N] [--per-image]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from restora.metrics import psnr

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATASETS = SHARED / "datasets"
FFDNET = SHARED / "weights" / "ffdnet" / "FFDNet_color.mat"

SCALE = 4
KERNEL_STD = 1.6
MISSING = 0.5
SR_METHODS = ("bicubic", "pnp_tv", "pnp_restora", "pnp_ffdnet", "diffpir")
INPAINT_METHODS = ("masked", "telea", "pnp_tv", "pnp_restora", "pnp_ffdnet", "diffpir")
DEMOSAIC_METHODS = ("bilinear", "pnp_tv", "pnp_restora", "pnp_ffdnet")
BAYER = "RGGB"

#: f(observation HWC float [0, 1], kernel or mask) -> restored HWC float
Method = Callable[[np.ndarray, np.ndarray], np.ndarray]


def sr_operator(kernel: np.ndarray):
    """Circular blur with ``kernel`` then keep every ``SCALE``-th pixel (USRNet/DPIR model)."""
    from restora.degrade.operators import (
        BlurOperator,
        ComposeOperator,
        DownsampleOperator,
    )

    return ComposeOperator(BlurOperator(kernel), DownsampleOperator(SCALE))


def degrade(
    clean: np.ndarray, *, task: str, index: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reference, observation, kernel or mask) for one clean HWC float image."""
    if task == "sr":
        from restora.degrade import gaussian_kernel

        h, w = (clean.shape[0] // SCALE) * SCALE, (clean.shape[1] // SCALE) * SCALE
        ref = clean[:h, :w]
        k = gaussian_kernel(KERNEL_STD)
        y = sr_operator(k).A(ref.astype(np.float64))
        return ref, y.astype(np.float32), k
    if task == "inpaint":
        rng = np.random.default_rng(index)
        mask = (rng.random(clean.shape[:2]) >= MISSING).astype(np.float32)
        return clean, clean * mask[:, :, None], mask
    if task == "demosaic":
        from restora.degrade.operators import MosaicOperator

        h, w = (clean.shape[0] // 2) * 2, (clean.shape[1] // 2) * 2
        ref = clean[:h, :w]
        return ref, MosaicOperator(BAYER).A(ref.astype(np.float64)).astype(np.float32), np.zeros(0)
    raise SystemExit(f"unknown task {task!r} (expected sr, inpaint or demosaic)")


def _telea(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import cv2

    y8 = np.rint(np.clip(y, 0, 1) * 255).astype(np.uint8)
    holes = (mask == 0).astype(np.uint8)
    out = cv2.inpaint(np.ascontiguousarray(y8), holes, 3, cv2.INPAINT_TELEA)
    return out.reshape(y.shape).astype(np.float32) / 255.0


def _denoiser(name: str) -> object | None:
    if name == "pnp_restora":
        return "denoise_color"  # the shipped colour denoiser
    if name == "pnp_ffdnet":
        if not FFDNET.is_file():
            print(f"skipping pnp_ffdnet: {FFDNET} absent")
            return None
        from restora.models import load_model

        return load_model(FFDNET)
    return name[4:]


def methods(task: str, names: list[str]) -> dict[str, Method]:
    """Row name -> method for ``task`` ("sr", "inpaint" or "demosaic")."""
    from restora.methods import get_method
    from restora.solvers.pnp import bilinear_demosaic

    pnp = get_method("pnp")
    table: dict[str, Method] = {}
    allowed = {"sr": SR_METHODS, "inpaint": INPAINT_METHODS, "demosaic": DEMOSAIC_METHODS}[task]
    for name in names:
        if name not in allowed and not name.startswith("pnp_"):
            continue  # a row of another task
        if name == "bilinear":
            table[name] = lambda y, _: bilinear_demosaic(y, pattern=BAYER)
        elif name == "bicubic":
            from restora.degrade import imresize

            table[name] = lambda y, k: imresize(y, SCALE)
        elif name == "masked":
            table[name] = lambda y, m: y
        elif name == "telea":
            table[name] = _telea
        elif name == "diffpir":
            diffpir = get_method("diffpir")  # with the shipped prior
            if task == "sr":
                table[name] = lambda y, k: diffpir(
                    y, task="upscale", kernel=k, scale=SCALE, sigma=0.0, steps=20, seed=0,
                    boundary="circular")
            else:
                table[name] = lambda y, m: diffpir(
                    y, task="inpaint", mask=m == 0, sigma=0.0, steps=20, seed=0)
        else:
            den = _denoiser(name)
            if den is None:
                continue
            if task == "sr":
                table[name] = lambda y, k, d=den: pnp(
                    y, task="upscale", scale=SCALE, kernel=k, sigma=0.0, denoiser=d,
                    boundary="circular")
            elif task == "demosaic":
                table[name] = lambda y, _, d=den: pnp(
                    y.astype(np.float32), task="demosaic", denoiser=d, bayer=BAYER)
            else:  # m: 1 = observed
                table[name] = lambda y, m, d=den: pnp(
                    y, task="inpaint", mask=m == 0, sigma=0.0, denoiser=d)
    return table


def score(task: str, ref: np.ndarray, out: np.ndarray) -> float:
    """PSNR after uint8 quantisation: Y channel, border 4 for sr; RGB, whole image otherwise."""
    ref8 = np.rint(np.clip(ref, 0, 1) * 255).astype(np.uint8)
    out8 = np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)
    if task == "sr":
        return psnr(ref8, out8, y_channel=True, crop_border=SCALE)
    return psnr(ref8, out8)


def run_table(
    cleans: list[np.ndarray], *, task: str, names: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """PSNR per method and image, and total seconds per method."""
    table = methods(task, names)
    scores = {m: np.zeros(len(cleans)) for m in table}
    seconds = dict.fromkeys(table, 0.0)
    for i, clean in enumerate(cleans):
        ref, y, aux = degrade(clean, task=task, index=i)
        for name, fn in table.items():
            t = time.perf_counter()
            out = fn(y, aux)
            seconds[name] += time.perf_counter() - t
            scores[name][i] = score(task, ref, out)
    return scores, seconds


def load_set(name: str, limit: int | None) -> tuple[list[str], list[np.ndarray]]:
    from PIL import Image

    files = sorted((DATASETS / name).glob("*.png"))
    if not files:
        raise SystemExit(f"needs {DATASETS / name}/*.png")
    files = files[:limit] if limit else files
    imgs = [
        np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255.0
        for f in files
    ]
    return [f.stem for f in files], imgs


TITLES = {
    "sr": f"SR x{SCALE}, Gaussian kernel std {KERNEL_STD} px, no noise; PSNR dB (Y, border 4, uint8)",
    "inpaint": f"inpainting, {MISSING:.0%} random pixels missing, no noise; PSNR dB (RGB, uint8)",
    "demosaic": f"demosaicking, {BAYER} Bayer mosaic, no noise; PSNR dB (RGB, uint8)",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="set5,set14")
    ap.add_argument("--tasks", default="sr,inpaint")
    ap.add_argument("--methods", default="bicubic,masked,telea,pnp_tv,pnp_ffdnet")
    ap.add_argument(
        "--limit", type=int, default=None, help="first N images of each set"
    )
    ap.add_argument("--per-image", action="store_true")
    args = ap.parse_args()
    sets = args.sets.split(",")
    loaded = {s: load_set(s, args.limit) for s in sets}
    for task in args.tasks.split(","):
        results = {
            s: run_table(imgs, task=task, names=args.methods.split(","))
            for s, (_, imgs) in loaded.items()
        }
        names = list(next(iter(results.values()))[0])
        print(f"\n{TITLES[task]}\n")
        print(
            "| method | "
            + " | ".join(f"{s} ({len(loaded[s][1])})" for s in sets)
            + " | s/image |"
        )
        print("|---|" + "---|" * (len(sets) + 1))
        for m in names:
            cells = " | ".join(f"{results[s][0][m].mean():.2f}" for s in sets)
            n = sum(len(loaded[s][1]) for s in sets)
            secs = sum(results[s][1][m] for s in sets) / n
            print(f"| {m} | {cells} | {secs:.2f} |")
        if args.per_image:
            for s in sets:
                stems = loaded[s][0]
                print(f"\n{s}, {task}, per image\n")
                print("| method | " + " | ".join(stems) + " |")
                print("|---|" + "---|" * len(stems))
                for m in names:
                    print(
                        f"| {m} | "
                        + " | ".join(f"{v:.2f}" for v in results[s][0][m])
                        + " |"
                    )


if __name__ == "__main__":
    main()
