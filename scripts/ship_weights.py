"""Copy a finished training run into the package as shipped default weights, with its card.

    .venv/bin/python scripts/ship_weights.py denoise_gray configs/default_denoise_gray.toml \
        --measured runs/bench/denoise_gray.md

Writes ``src/restora/weights/<name>.safetensors`` (the run's exported EMA weights, stored as
float16 to halve the size; restora loads them into float32 networks) and the model card
``<name>.md`` (recipe, data, steps, seed, hardware, wall time, validation PSNR, and the
measured tables given with ``--measured``). Prints the sha256 for ``DEFAULT_WEIGHTS``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "src" / "restora" / "weights"


def _cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        name = platform.processor() or "unknown CPU"
    return name


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


def _same_tensors(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("config", type=Path)
    parser.add_argument("--measured", type=Path, help="Markdown with the measured test tables")
    parser.add_argument("--threads-note", default="2 shared vCPUs (torch threads = 2), no GPU")
    parser.add_argument("--hardware", help="where the run trained, in place of this CPU's name and "
                        "--threads-note (e.g. a lent GPU)")
    args = parser.parse_args(argv)

    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save

    from restora.io.atomic import atomic_write, atomic_write_text, file_sha256
    from restora.models import load_model
    from restora.train.config import load_config

    config = load_config(args.config)
    run = REPO / config.output
    src = run / "model.safetensors"
    with safe_open(str(src), framework="pt") as fh:
        meta = dict(fh.metadata() or {})
    tensors = {k: (v.half() if v.is_floating_point() else v) for k, v in load_file(str(src)).items()}
    meta["restora_storage"] = "float16"
    meta["restora_licence"] = "Apache-2.0 (weights trained by restora; training data BSDS: research use)"
    dest = WEIGHTS / f"{args.name}.safetensors"
    same = dest.is_file() and _same_tensors(load_file(str(dest)), tensors)
    if not same:  # safetensors orders its metadata arbitrarily: rewrite only new weights
        data = save(tensors, metadata=meta)
        atomic_write(dest, lambda fh: fh.write(data))
    desc = load_model(dest)
    params = sum(p.numel() for p in desc.model.parameters())

    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    vals = [(r["step"], r["val_psnr"]) for r in records if "val_psnr" in r]
    seconds = max((r.get("seconds", 0.0) for r in records), default=0.0)
    last = max((r["step"] for r in records if "step" in r), default=config.steps)
    # a run stopped early (a time limit): its steps, and the --max-steps that repeats it
    steps_text = str(config.steps) if last >= config.steps else f"{last} (of a {config.steps}-step schedule)"
    max_steps = "" if last >= config.steps else f" --max-steps {last}"
    hardware = args.hardware or f"{_cpu_name()}, {args.threads_note}; torch {torch.__version__}"
    machine_note = "" if args.hardware else "; shared machine, other jobs running"
    recipe = args.config.read_text()
    digest = file_sha256(dest)
    val_text = ", ".join(f"step {s}: {v:.2f} dB" for s, v in vals)
    measured = args.measured.read_text() if args.measured else "(not measured yet)\n"
    start = ("random init, except the features that carry the input, set so that the "
             "untrained network computes bicubic interpolation: `start = \"bicubic\"`"
             if config.model.options.get("start") == "bicubic" else "random init")
    if config.model.init:  # a fine-tuning stage: the earlier stages' configs run first
        origin = (f"Trained by restora's own trainer in stages: the first from scratch ({start}), "
                  f"this one from `{config.model.init}` (an earlier stage's run)")
        stages = " (the earlier stages first: the `restora train` lines in the recipe's header)"
    else:
        origin, stages = f"Trained by restora's own trainer from scratch ({start})", ""
    card = f"""# restora default weights: `{args.name}`

| | |
|---|---|
| file | `{dest.name}` ({_size(dest.stat().st_size)}, float16 storage, loaded as float32) |
| sha256 | `{digest}` |
| architecture | `{desc.arch}` {json.dumps(desc.config, sort_keys=True)} ({params / 1e6:.2f} M parameters) |
| task | {desc.task}, x{desc.scale}, {desc.in_channels} -> {desc.out_channels} channels, noise-level input: {desc.needs_sigma} |
| training data | {", ".join(config.data.train)} (never a test set) |
| validation data | {config.data.val} (centre crops {config.data.val_crop} px, first {config.data.val_max_images or 'all'} images) |
| degradation | `{config.degradation.kind}` (recipe below) |
| steps / batch / patch | {steps_text} / {config.data.batch_size} / {config.data.patch_size} px |
| seed | {config.seed} |
| hardware | {hardware}, bf16 autocast: {config.amp} |
| wall time | {seconds / 60:.1f} min (from the run's log{machine_note}) |
| validation PSNR | {val_text} |
| licence | {meta["restora_licence"]} |

{origin}; no third-party weights were used in any way. Reproduce with{stages}:

```bash
restora train {args.config.as_posix()}{max_steps}
.venv/bin/python scripts/ship_weights.py {args.name} {args.config.as_posix()}
```

## Measured (paper protocols, `restora.bench.evaluate`)

{measured}
## Recipe (`{args.config.as_posix()}`)

```toml
{recipe.rstrip()}
```
"""
    atomic_write_text(WEIGHTS / f"{args.name}.md", card)
    print(f"{dest}  sha256 {digest}  {params} params  val {val_text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
