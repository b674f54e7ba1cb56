"""Non-blind deblurring on Set3C with the 8 Levin et al. (2009) kernels, DPIR's protocol.

Protocol (Zhang et al., DPIR, TPAMI 2021, Sec. 5.1): clean = uint8 PNG / 255 (RGB);
blurred with the kernel, circular boundary; plus Gaussian noise of std ``sigma`` (8-bit
units; 2.55 and 7.65 = 0.01 and 0.03), seeded with the image index
(``restora.bench.evaluate.degrade_for_protocol``); each method gets the true kernel and
sigma; output clipped, quantised to uint8; PSNR on RGB, whole image
(``restora.metrics.psnr``). Prints a markdown table: mean PSNR over the 3 images per
kernel, and the mean over all kernels.

Rows: the blurred input, Wiener, Richardson-Lucy (30 iterations), PnP-HQS with TV, PnP-HQS
with restora's shipped colour denoiser (``pnp_restora``), PnP-HQS with the official FFDNet
colour weights (skipped when ../shared/weights/ffdnet is absent), and DiffPIR with restora's
shipped diffusion prior (``diffpir``, 20 steps, seed 0); ``dps`` (not in the default list:
DPS with the same prior, ``--dps-steps`` denoiser calls, each with a backward pass, and
``--dps-step-size``, the ``zeta'`` of :func:`restora.methods.diffusion.dps`).

    .venv/bin/python benchmarks/deblur_table.py [--dataset set3c|cbsd68] [--limit N]
        [--sigmas 2.55,7.65] [--kernels 1-8] [--niqe] [--json OUT.json] [--crops DIR]
        [--methods blurred,wiener,richardson_lucy,pnp_tv,pnp_restora,pnp_ffdnet,diffpir,dps]
        [--dps-steps 100] [--dps-step-size 1.0]

``--niqe`` adds NIQE (lower = more natural; needs the pristine model, see
``restora.metrics.niqe``; computed on the uint8 output); ``--crops DIR`` saves every
method's output of the first image / kernel / sigma as PNG (for the side-by-side figure).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from restora.bench.evaluate import degrade_for_protocol
from restora.methods import get_method
from restora.methods.pnp import pnp_deblur
from restora.metrics import psnr

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATASETS = SHARED / "datasets"
LEVIN = SHARED / "datasets" / "blur_kernels_levin09" / "levin09_kernels.npz"
FFDNET = SHARED / "weights" / "ffdnet" / "FFDNet_color.mat"

Method = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def _registered(name: str) -> Method:
    info = get_method(name)
    if "sigma" in info.options:
        return lambda y, k, s: info(y, kernel=k, sigma=s)
    return lambda y, k, s: info(y, kernel=k)


def _pnp(denoiser: object) -> Method:
    return lambda y, k, s: pnp_deblur(y, kernel=k, sigma=s, denoiser=denoiser)


def methods(names: list[str], *, dps_steps: int = 100, dps_step_size: float = 1.0) -> dict[str, Method]:
    table: dict[str, Method] = {}
    for name in names:
        if name == "blurred":
            table[name] = lambda y, k, s: y
        elif name in ("wiener", "richardson_lucy"):
            table[name] = _registered(name)
        elif name == "pnp_ffdnet":
            if not FFDNET.is_file():
                print(f"skipping pnp_ffdnet: {FFDNET} absent")
                continue
            from restora.models import load_model

            table[name] = _pnp(load_model(FFDNET))
        elif name == "pnp_restora":
            from restora.models import load_model
            from restora.weights import default_model

            path = default_model("denoise", channels=3)
            if path is None:
                print("skipping pnp_restora: no shipped colour denoiser")
                continue
            table[name] = _pnp(load_model(path))
        elif name == "diffpir":
            from restora.methods.diffusion import diffpir_restore, shipped_prior

            prior = shipped_prior()
            table[name] = lambda y, k, s, prior=prior: diffpir_restore(
                y, task="deblur", model=prior, kernel=k, sigma=s, steps=20, seed=0)
        elif name == "dps":
            from restora.degrade.operators import BlurOperator
            from restora.methods.diffusion import dps, shipped_prior
            from restora.models import load_model

            prior = load_model(shipped_prior())
            table[name] = lambda y, k, s, prior=prior: dps(y, BlurOperator(k), prior, steps=dps_steps,
                                                            step_size=dps_step_size, seed=0)
        elif name.startswith("pnp_"):
            table[name] = _pnp(name[4:])
        else:
            raise SystemExit(f"unknown method {name!r}")
    return table


def parse_kernels(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(v) for v in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigmas", default="2.55,7.65")
    ap.add_argument("--kernels", default="1-8")
    ap.add_argument("--methods", default="blurred,wiener,richardson_lucy,pnp_tv,pnp_restora,pnp_ffdnet,diffpir")
    ap.add_argument("--dataset", default="set3c")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--niqe", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--crops", type=Path, default=None)
    ap.add_argument("--dps-steps", type=int, default=100)
    ap.add_argument("--dps-step-size", type=float, default=1.0)
    args = ap.parse_args()
    import json

    from PIL import Image

    folder = DATASETS / args.dataset
    files = sorted(folder.glob("*.png"))[: args.limit]
    if not files or not LEVIN.is_file():
        raise SystemExit(f"needs {folder} and {LEVIN}")
    niqe_fn = None
    if args.niqe:
        from restora.metrics import niqe

        params = DATASETS / "iqa_models" / "niqe_pris_params.npz"
        niqe_fn = lambda img8: niqe(img8, params=params)
    report: dict = {"dataset": args.dataset, "images": len(files), "kernels": args.kernels, "rows": {}}
    cleans = [np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255.0 for f in files]
    bank = np.load(LEVIN)
    kernel_ids = parse_kernels(args.kernels)
    table = methods(args.methods.split(","), dps_steps=args.dps_steps, dps_step_size=args.dps_step_size)
    sigmas = [float(v) for v in args.sigmas.split(",")]
    for sigma in sigmas:
        scores = {m: np.zeros((len(kernel_ids), len(files))) for m in table}
        naturalness = {m: np.zeros((len(kernel_ids), len(files))) for m in table}
        seconds = dict.fromkeys(table, 0.0)
        for ki, kid in enumerate(kernel_ids):
            k = bank[f"kernel_{kid}"].astype(np.float64)
            k /= k.sum()
            for i, clean in enumerate(cleans):
                ref, y = degrade_for_protocol(
                    clean,
                    task="deblur",
                    index=i,
                    seed=0,
                    sigma=sigma,
                    scale=None,
                    quality=None,
                    kernel=k,
                )
                ref8 = np.rint(ref * 255).astype(np.uint8)
                for name, fn in table.items():
                    t = time.perf_counter()
                    out = fn(y.astype(np.float32), k, sigma)
                    seconds[name] += time.perf_counter() - t
                    out8 = np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)
                    scores[name][ki, i] = psnr(ref8, out8)
                    if niqe_fn is not None:
                        naturalness[name][ki, i] = niqe_fn(out8)
                    if args.crops is not None and ki == 0 and i == 0 and sigma == sigmas[0]:
                        args.crops.mkdir(parents=True, exist_ok=True)
                        Image.fromarray(out8).save(args.crops / f"{name}.png")
                        Image.fromarray(ref8).save(args.crops / "clean.png")
        n = len(kernel_ids) * len(files)
        print(
            f"\n{args.dataset} ({len(files)} images), Levin kernels, noise sigma {sigma:g} (8-bit units); "
            "PSNR dB (RGB, uint8)\n"
        )
        print("| method | " + " | ".join(f"k{kid}" for kid in kernel_ids) + " | mean | s/image |")
        print("|---|" + "---|" * (len(kernel_ids) + 2))
        for name, s in scores.items():
            cells = " | ".join(f"{v:.2f}" for v in s.mean(axis=1))
            extra = f" NIQE {naturalness[name].mean():.2f} |" if niqe_fn is not None else ""
            print(f"| {name} | {cells} | **{s.mean():.2f}** | {seconds[name] / n:.2f} |{extra}", flush=True)
            report["rows"].setdefault(name, {})[f"{sigma:g}"] = {
                "psnr": float(s.mean()), "seconds_per_image": seconds[name] / n,
                "niqe": float(naturalness[name].mean()) if niqe_fn is not None else None}
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
