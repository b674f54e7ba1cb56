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
the DnCNN-3 protocol; quality 10/20/30/40), upscale_x2 / upscale_x4 on Set5 and B100.

On a CPU without bf16 instructions torch still runs bf16 autocast (inputs, weights and each
convolution's output rounded to bf16, products accumulated in fp32, as AMX does), only
slower (6-7x fp32 here); the PSNR difference measures the rounding, not the instruction set.

Levels run highest-PSNR first (sigma 15, quality 40, Set5): bf16's rounding costs most
where the output is cleanest. Once a model loses more than the limit at one level its
decision is fp32, and its other levels are skipped unless ``--full`` (they cannot change it).
Results are saved after every level; ``--resume`` skips the levels already in ``--out``.

    .venv/bin/python benchmarks/cpu_precision.py                          # all models (hours on 2 cores)
    .venv/bin/python benchmarks/cpu_precision.py --models denoise_color --limit 4   # smoke run
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

MODELS = ("denoise_color", "denoise_gray", "deblock_gray", "upscale_x2", "upscale_x4")


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
    scale = int(model[-1])
    return [(f"{name} x{scale}", DATA / name, {"task": "upscale", "scale": scale})
            for name in ("set5", "b100")]


def measure(model: str, limit: int | None, tmp: Path, log: dict, *, full: bool,
            save) -> dict:
    from restora.bench import evaluate
    from restora.models.inference import BF16_MAX_LOSS_DB

    rows = log.get(model, {}).get("sets", {})
    for label, folder, options in _sets(model, tmp):
        if label in rows:
            continue
        if not full and any(-r["diff"] > BF16_MAX_LOSS_DB for r in rows.values()):
            print(f"{model:14s} {label:16s} skipped: decided (fp32)", flush=True)
            continue
        row = {}
        for precision in ("fp32", "bf16"):
            t0 = time.perf_counter()
            result = evaluate(None, folder, model=model, device="cpu", precision=precision,
                              limit=limit, **options)
            row[precision] = result.mean_psnr
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
                "cpu_bf16_fast": cpu_bf16_supported()})

    def save() -> None:
        args.out.write_text(json.dumps(log, indent=2) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            measure(model, args.limit, Path(tmp), log, full=args.full, save=save)
    print("\n| model | set, level | fp32 | bf16 | bf16 - fp32 |\n|---|---|---:|---:|---:|")
    for model in args.models:
        for label, row in log[model]["sets"].items():
            print(f"| `{model}` | {label} | {row['fp32']:.3f} | {row['bf16']:.3f} | {row['diff']:+.3f} |")
        for label in log[model]["skipped"]:
            print(f"| `{model}` | {label} | - | - | not run (decided) |")
    print("\n| model | largest loss (dB) | `--precision auto` on a CPU with fast bf16 |\n|---|---:|---|")
    for model in args.models:
        loss = log[model]["bf16_loss_db"]
        print(f"| `{model}` | {loss:.3f} | {'bf16' if loss <= BF16_MAX_LOSS_DB else 'fp32'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
