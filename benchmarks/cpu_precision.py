"""bf16 against fp32 for every shipped default model, on its reference sets (the CPU path).

For each default model, every reference set and level is evaluated twice through
``restora.bench.evaluate`` (the code path of ``restora eval``, paper protocols, whole
images, device cpu): ``precision="fp32"`` and ``precision="bf16"`` (autocast, channels-last).
Prints mean PSNR per set and level, the difference bf16 - fp32, and per model the largest
loss (fp32 - bf16, dB) over all its sets and levels: the number recorded as
``WeightCard.bf16_loss_db`` in ``restora/weights/__init__.py``, which ``--precision auto``
follows on CPUs with fast bf16 (AMX or AVX512-BF16): bf16 only when the loss is at most
``restora.models.inference.BF16_MAX_LOSS_DB`` (0.02 dB).

Reference sets (``../shared/datasets``): denoise_gray on BSD68 (sigma 15/25/50),
denoise_color on CBSD68 (sigma 15/25/50), deblock_gray on classic5 and LIVE1 (Y channel,
the DnCNN-3 protocol; quality 10/20/30/40), upscale_x2 / upscale_x4 on Set5 and B100,
upscale_real_x4 on Set5 (x4, the clean bicubic protocol its card reports). Two models have
no ``restora eval`` protocol and are scored here the way their cards' benchmarks run them:
denoise_real on nam_real_noise (``--model denoise_real``, blind, RGB uint8 PSNR against the
mean-of-many-shots reference, as ``benchmarks/real_noise_eval.py``), and lowlight (the
``zerodce`` method, its revealed-noise denoiser off so that only this network's precision
changes) on CBSD68 photos darkened by ``restora.degrade.low_light`` (3 stops, shot 5e-4,
read 2e-7, JPEG q90, as ``benchmarks/lowlight_eval.py``), RGB PSNR against the clean photo.

On a CPU without bf16 instructions torch still runs bf16 autocast (inputs, weights and each
convolution's output rounded to bf16, products accumulated in fp32, as AMX does), only
slower (6-7x fp32 here); the PSNR difference measures the rounding, not the instruction set.

``--backend`` picks the engine both precisions run on (default ``auto``, what users get);
``--backend openvino`` measures OpenVINO's own bf16 (its inference precision, not autocast)
against its fp32, for the architectures it runs.

Levels run highest-PSNR first (sigma 15, quality 40, Set5): bf16's rounding costs most
where the output is cleanest. Once a model loses more than the limit at one level its
decision is fp32, and its other levels are skipped unless ``--full`` (they cannot change it).
Results are saved after every level; ``--resume`` skips the levels already in ``--out``.

    .venv/bin/python benchmarks/cpu_precision.py                          # all models (hours on 2 cores)
    .venv/bin/python benchmarks/cpu_precision.py --models denoise_color --limit 4   # smoke run
    .venv/bin/python benchmarks/cpu_precision.py --models denoise_real lowlight --limit 4 \
        --out runs/bench/cpu_precision2.json                              # a subset, own file
    .venv/bin/python benchmarks/cpu_precision.py --backend openvino \
        --models denoise_color denoise_gray deblock_gray upscale_real_x4 --out runs/bench/ov.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from default_models import _gray_copy  # the LIVE1 Y copies of that table

MODELS = ("denoise_color", "denoise_gray", "deblock_gray", "upscale_x2", "upscale_x4",
          "upscale_real_x4", "denoise_real", "lowlight")
#: Darkening of the lowlight set: stops, shot- and read-noise variance (raw scale), JPEG quality.
LOW_LIGHT = (3.0, 5e-4, 2e-7, 90)


def _sets(model: str, tmp: Path) -> list[tuple[str, Path, dict]]:
    """(label, folder, evaluate() options) of every reference set and level of a model."""
    if model in ("denoise_gray", "denoise_color"):
        folder = DATA / ("bsd68_gray" if model == "denoise_gray" else "cbsd68")
        return [(f"{folder.name} s{s}", folder, {"task": "denoise", "sigma": s}) for s in (15, 25, 50)]
    if model == "deblock_gray":
        live1 = _gray_copy(DATA / "live1", tmp / "live1_gray")
        return [(f"{name} q{q}", folder, {"task": "deblock", "quality": q})
                for name, folder in (("classic5", DATA / "classic5"), ("live1_gray", live1))
                for q in (40, 30, 20, 10)]
    if model == "denoise_real":
        return [("nam_real_noise", DATA / "nam_real_noise", {})]
    if model == "lowlight":
        return [("cbsd68 dark 3 stops", DATA / "cbsd68", {})]
    scale = int(model[-1])
    names = ("set5",) if model == "upscale_real_x4" else ("set5", "b100")
    return [(f"{name} x{scale}", DATA / name, {"task": "upscale", "scale": scale})
            for name in names]


def _u8(x):
    import numpy as np

    from restora.io.bridge import from_float32

    return from_float32(np.clip(x, 0.0, 1.0), np.uint8)


def score_denoise_real(folder: Path, precision: str, limit: int | None, backend: str) -> float:
    """Mean RGB PSNR of ``--model denoise_real`` (blind) on the first nam_real_noise pairs."""
    import numpy as np

    from restora.io import read_image
    from restora.metrics import psnr
    from restora.options import Choice, Execution, Params
    from restora.run import Restorer

    restorer = Restorer(Choice(task="denoise", model="denoise_real"),
                        Execution(device="cpu", precision=precision, tile=None, backend=backend))
    scores = []
    for noisy in sorted((folder / "noisy").glob("*_noise.png"))[:limit]:
        gt = read_image(folder / "gt" / noisy.name.replace("_noise", "_gt")).pixels
        output, _ = restorer.run(read_image(noisy).pixels.astype(np.float32), Params())
        scores.append(psnr(gt, _u8(output)))
    return float(np.mean(scores))


def score_lowlight(folder: Path, precision: str, limit: int | None, backend: str) -> float:
    """Mean RGB PSNR of the ``zerodce`` method (denoise off) on darkened CBSD68 photos."""
    import numpy as np

    from restora.bench.evaluate import list_dataset
    from restora.degrade import low_light
    from restora.io import read_image
    from restora.methods.lowlight import zerodce
    from restora.metrics import psnr
    from restora.options import Execution

    stops, shot, read, quality = LOW_LIGHT
    execution = Execution(device="cpu", precision=precision, tile=None, backend=backend)
    scores = []
    for i, path in enumerate(list_dataset(folder)[:limit]):
        clean = read_image(path).pixels
        dark = low_light(clean, np.random.default_rng([0, i]), stops=stops, shot=shot, read=read,
                         quality=quality)
        scores.append(psnr(clean, _u8(zerodce(dark, denoise=False, execution=execution))))
    return float(np.mean(scores))


SCORERS = {"denoise_real": score_denoise_real, "lowlight": score_lowlight}


def measure(model: str, limit: int | None, tmp: Path, log: dict, *, full: bool,
            save, only: list[str] | None = None, backend: str = "auto") -> dict:
    from restora.bench import evaluate
    from restora.models.inference import BF16_MAX_LOSS_DB

    rows = log.get(model, {}).get("sets", {})
    for label, folder, options in _sets(model, tmp):
        if label in rows or (only and not any(label.startswith(o) for o in only)):
            continue
        if not full and any(-r["diff"] > BF16_MAX_LOSS_DB for r in rows.values()):
            print(f"{model:14s} {label:16s} skipped: decided (fp32)", flush=True)
            continue
        row = {}
        for precision in ("fp32", "bf16"):
            t0 = time.perf_counter()
            if model in SCORERS:
                row[precision] = SCORERS[model](folder, precision, limit, backend)
            else:
                row[precision] = evaluate(None, folder, model=model, device="cpu", backend=backend,
                                          precision=precision, limit=limit, **options).mean_psnr
            row[f"{precision}_s"] = round(time.perf_counter() - t0, 1)
        row["diff"] = row["bf16"] - row["fp32"]
        rows[label] = row
        print(f"{model:14s} {label:16s} fp32 {row['fp32']:.4f}  bf16 {row['bf16']:.4f}  "
              f"diff {row['diff']:+.4f}  ({row['fp32_s']:.0f} s / {row['bf16_s']:.0f} s)", flush=True)
        log[model] = {"sets": rows}
        save()
    loss = max(-r["diff"] for r in rows.values())
    skipped = [label for label, _, _ in _sets(model, tmp) if label not in rows]
    log[model] = {"sets": rows, "bf16_loss_db": round(max(loss, 0.0), 4), "skipped": skipped}
    save()
    return log[model]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--limit", type=int, default=None, help="first N images per set")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="every level, even once decided")
    parser.add_argument("--resume", action="store_true", help="keep the levels already in --out")
    parser.add_argument("--sets", nargs="*", default=None,
                        help="only the levels whose label starts with one of these ('classic5 q')")
    parser.add_argument("--backend", default="auto", help="engine of both precisions (auto, torch, "
                        "onnxruntime, openvino)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench" / "cpu_precision.json")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"needs {DATA}", file=sys.stderr)
        return 2
    import torch

    from restora.models.inference import BF16_MAX_LOSS_DB, cpu_bf16_supported

    torch.set_num_threads(args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log: dict = json.loads(args.out.read_text()) if args.resume and args.out.is_file() else {}
    log.update({"limit": args.limit, "threads": args.threads, "torch": torch.__version__,
                "backend": args.backend,
                "cpu_bf16_fast": cpu_bf16_supported()})

    def save() -> None:
        args.out.write_text(json.dumps(log, indent=2) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            measure(model, args.limit, Path(tmp), log, full=args.full, save=save, only=args.sets,
                    backend=args.backend)
    print("\n| model | set, level | fp32 | bf16 | bf16 - fp32 |\n|---|---|---:|---:|---:|")
    for model in args.models:
        for label, row in log[model]["sets"].items():
            print(f"| `{model}` | {label} | {row['fp32']:.3f} | {row['bf16']:.3f} | {row['diff']:+.3f} |")
        for label in log[model]["skipped"]:
            print(f"| `{model}` | {label} | - | - | not run |")
    print("\n| model | largest loss (dB) | `--precision auto` on a CPU with fast bf16 |\n|---|---:|---|")
    for model in args.models:
        loss = log[model]["bf16_loss_db"]
        print(f"| `{model}` | {loss:.4f} | {'bf16' if loss <= BF16_MAX_LOSS_DB else 'fp32'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
