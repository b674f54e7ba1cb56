"""Non-blind deblurring on Set3C or CBSD68 with the 8 Levin et al. (2009) kernels, DPIR's protocol.

Protocol (Zhang et al., DPIR, TPAMI 2021, Sec. 5.1): clean = uint8 PNG / 255 (RGB);
blurred with the kernel, circular boundary; plus Gaussian noise of std ``sigma`` (8-bit
units; 2.55 and 7.65 = 0.01 and 0.03), seeded with the image index
(``restora.bench.evaluate.degrade_for_protocol``); each method gets the true kernel and
sigma; output clipped, quantised to uint8; PSNR on RGB, whole image
(``restora.metrics.psnr``). Prints a markdown table: mean PSNR over the images per
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
        [--dps-steps 100] [--dps-step-size 1.0] [--pairing all|cycle] [--shard 0/2]
        [--log runs/x.jsonl] [--summarise runs/x0.jsonl runs/x1.jsonl]

``--pairing cycle`` runs kernel ``i mod 8`` on image ``i`` only (one pair per image, all
kernels covered); ``--log FILE`` appends one JSON line per (method, sigma, kernel, image) and
skips pairs already there, so a stopped run resumes; ``--shard PART/COUNT`` splits the images
between processes (give each its own log); ``--summarise LOG...`` prints the table from logs.

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
    pnp = get_method("pnp")
    return lambda y, k, s: pnp(y, task="deblur", kernel=k, sigma=s, denoiser=denoiser,
                               boundary="circular")  # the protocol's blur is circular


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
            table[name] = _pnp("denoise_color")  # the shipped colour denoiser
        elif name == "diffpir":
            diffpir = get_method("diffpir")  # with the shipped prior
            table[name] = lambda y, k, s: diffpir(y, task="deblur", kernel=k, sigma=s, steps=20, seed=0,
                                                  boundary="circular")
        elif name == "dps":
            dps = get_method("dps")
            table[name] = lambda y, k, s: dps(y, task="deblur", kernel=k, steps=dps_steps,
                                              step_size=dps_step_size, seed=0, boundary="circular")
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


def pairs(n_images: int, kernel_ids: list[int], pairing: str, shard: tuple[int, int]) -> list[tuple[int, int]]:
    """(kernel id, image index) pairs to run: every kernel on every image (``all``), or
    kernel ``kernel_ids[i % len(kernel_ids)]`` on image ``i`` only (``cycle``); then only the
    images ``i`` with ``i % count == part`` (``shard = (part, count)``)."""
    part, count = shard
    images = [i for i in range(n_images) if i % count == part]
    if pairing == "cycle":
        return [(kernel_ids[i % len(kernel_ids)], i) for i in images]
    return [(kid, i) for kid in kernel_ids for i in images]


def read_log(paths: list[Path]) -> dict[tuple[str, float, int, int], dict]:
    """Per-pair records of earlier runs (JSON lines), keyed by (method, sigma, kernel, image)."""
    import json

    records = {}
    for path in paths:
        if path.is_file():
            for line in path.read_text().splitlines():
                if line.strip():
                    r = json.loads(line)
                    records[(r["method"], r["sigma"], r["kernel"], r["image"])] = r
    return records


def summarise(records: dict, names: list[str], sigmas: list[float], kernel_ids: list[int],
              wanted: list[tuple[int, int]], dataset: str, n_images: int) -> dict:
    """Print the markdown table (mean PSNR per kernel and overall) over the ``wanted`` pairs;
    a method missing any wanted pair is reported with the count it has."""
    report: dict = {"dataset": dataset, "images": n_images, "kernels": kernel_ids, "pairs": len(wanted), "rows": {}}
    for sigma in sigmas:
        print(f"\n{dataset} ({n_images} images, {len(wanted)} image/kernel pairs), Levin kernels, "
              f"noise sigma {sigma:g} (8-bit units); PSNR dB (RGB, uint8)\n")
        print("| method | " + " | ".join(f"k{kid}" for kid in kernel_ids) + " | mean | s/image |")
        print("|---|" + "---|" * (len(kernel_ids) + 2))
        for name in names:
            got = [records.get((name, sigma, kid, i)) for kid, i in wanted]
            done = [r for r in got if r is not None]
            if len(done) < len(wanted):
                print(f"| {name} | ({len(done)} of {len(wanted)} pairs run) |")
                continue
            per_kernel = [np.mean([r["psnr"] for r in done if r["kernel"] == kid]) for kid in kernel_ids]
            mean = float(np.mean([r["psnr"] for r in done]))
            secs = float(np.mean([r["seconds"] for r in done]))
            niqes = [r["niqe"] for r in done if r.get("niqe") is not None]
            niqe = float(np.mean(niqes)) if len(niqes) == len(done) else None
            cells = " | ".join("-" if np.isnan(v) else f"{v:.2f}" for v in per_kernel)
            extra = f" NIQE {niqe:.2f} |" if niqe is not None else ""
            print(f"| {name} | {cells} | **{mean:.2f}** | {secs:.2f} |{extra}", flush=True)
            report["rows"].setdefault(name, {})[f"{sigma:g}"] = {
                "psnr": mean, "seconds_per_image": secs, "niqe": niqe}
    return report


def write_json(path: Path | None, report: dict) -> None:
    import json

    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigmas", default="2.55,7.65")
    ap.add_argument("--kernels", default="1-8")
    ap.add_argument("--methods", default="blurred,wiener,richardson_lucy,pnp_tv,pnp_restora,pnp_ffdnet,diffpir")
    ap.add_argument("--dataset", default="set3c")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--pairing", choices=("all", "cycle"), default="all",
                    help="every kernel on every image, or kernel i mod 8 on image i only")
    ap.add_argument("--shard", default="0/1", help="PART/COUNT: run only images i with i %% COUNT == PART")
    ap.add_argument("--log", type=Path, default=None,
                    help="JSON-lines file of per-pair results; pairs already in it are skipped (resume)")
    ap.add_argument("--summarise", type=Path, nargs="*", default=None,
                    help="only print the table from these logs (no restoration)")
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
    kernel_ids = parse_kernels(args.kernels)
    sigmas = [float(v) for v in args.sigmas.split(",")]
    names = args.methods.split(",")
    part_text, _, count_text = args.shard.partition("/")
    if not (part_text.isdigit() and count_text.isdigit() and int(part_text) < int(count_text)):
        raise SystemExit(f"--shard {args.shard!r}: expected PART/COUNT with 0 <= PART < COUNT, e.g. 0/2")
    part, count = int(part_text), int(count_text)
    if args.summarise is not None:
        records = read_log(args.summarise)
        wanted = pairs(len(files), kernel_ids, args.pairing, (0, 1))
        write_json(args.json, summarise(records, names, sigmas, kernel_ids, wanted, args.dataset, len(files)))
        return
    niqe_fn = None
    if args.niqe:
        from restora.metrics import niqe

        params = DATASETS / "iqa_models" / "niqe_pris_params.npz"
        niqe_fn = lambda img8: niqe(img8, params=params)
    cleans = [np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255.0 for f in files]
    with np.load(LEVIN) as bank:
        kernels = {kid: bank[f"kernel_{kid}"].astype(np.float64) for kid in kernel_ids}
    kernels = {kid: k / k.sum() for kid, k in kernels.items()}
    table = methods(names, dps_steps=args.dps_steps, dps_step_size=args.dps_step_size)
    records = read_log([args.log]) if args.log is not None else {}
    log = args.log.open("a") if args.log is not None else None
    todo = pairs(len(files), kernel_ids, args.pairing, (part, count))
    first = todo[0] if todo else None
    for sigma in sigmas:
        for kid, i in todo:
            if all((name, sigma, kid, i) in records for name in table):
                continue
            k = kernels[kid]
            ref, y = degrade_for_protocol(
                cleans[i], task="deblur", index=i, seed=0, sigma=sigma, scale=None, quality=None, kernel=k)
            ref8 = np.rint(ref * 255).astype(np.uint8)
            for name, fn in table.items():
                if (name, sigma, kid, i) in records:
                    continue
                t = time.perf_counter()
                out = fn(y.astype(np.float32), k, sigma)
                seconds = time.perf_counter() - t
                out8 = np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)
                record = {"method": name, "sigma": sigma, "kernel": kid, "image": i,
                          "psnr": float(psnr(ref8, out8)), "seconds": seconds,
                          "niqe": float(niqe_fn(out8)) if niqe_fn is not None else None}
                records[(name, sigma, kid, i)] = record
                if log is not None:
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                if args.crops is not None and (kid, i) == first and sigma == sigmas[0]:
                    args.crops.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(out8).save(args.crops / f"{name}.png")
                    Image.fromarray(ref8).save(args.crops / "clean.png")
    if log is not None:
        log.close()
    write_json(args.json, summarise(records, list(table), sigmas, kernel_ids, todo, args.dataset, len(files)))


if __name__ == "__main__":
    main()
