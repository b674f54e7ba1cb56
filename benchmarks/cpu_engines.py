"""Which engine runs each architecture fastest on this CPU in fp32: torch or ONNX Runtime.

For every shipped model (and the official FFDNet / DnCNN from ``../shared/weights/kair``
when present) one random tile goes through :class:`restora.models.inference.InferenceRunner`
with ``backend="torch"`` (fp32, channels-last: the torch CPU path), ``backend="onnxruntime"``
and, where the CPU has native bf16, torch bf16 autocast for comparison. Rounds are
interleaved (engine A, B, C, A, B, C, ...) and the best of ``--rounds`` is kept, so other
load on the machine hits every engine alike. Prints seconds per megapixel of output, the
ratio ONNX Runtime / torch fp32 (below 1: ONNX Runtime faster) and the largest output
difference between the two engines. :attr:`restora.archs.registry.ArchSpec.cpu_engine` is set
from this table.

    .venv/bin/python benchmarks/cpu_engines.py [--threads 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
KAIR = REPO.parent / "shared" / "weights" / "kair"
#: Tile side per task: the automatic tile of a photo of 1 MP or more (upscalers: a 192 px input).
SIDES = {"upscale": 192}
SIDE = 1024


def models() -> list[tuple[str, Path]]:
    from restora.weights import WEIGHTS_DIR

    found = [(p.stem, p) for p in sorted(Path(WEIGHTS_DIR).glob("*.safetensors"))
             if p.stem != "diffusion_prior"]  # runs with gradients / many steps: torch
    found += [(f"official {p.stem} (KAIR)", p) for p in (KAIR / "ffdnet_color.pth", KAIR / "dncnn_25.pth")
              if p.is_file()]
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)

    from restora.archs.registry import get_spec
    from restora.models import load_model
    from restora.models.inference import InferenceRunner, cpu_bf16_supported

    bf16 = cpu_bf16_supported()
    print(f"CPU: {platform.processor() or platform.machine()}, native bf16: {bf16}, "
          f"threads: {args.threads}, best of {args.rounds} interleaved rounds\n")
    print("| model | architecture | tile | torch fp32 s/MP | ONNX Runtime s/MP | ORT / torch | "
          + ("torch bf16 s/MP | " if bf16 else "") + "max difference |")
    print("|---|---|---|---:|---:|---:|" + ("---:|" if bf16 else "") + "---:|")
    for name, path in models():
        model = load_model(path)
        if not get_spec(model.arch).onnx:
            print(f"| {name} | {model.arch} | - | - | - | - | " + ("- | " if bf16 else "")
                  + "not exported: its forward pass depends on the input size |", flush=True)
            continue
        side = SIDES.get(model.task, SIDE)
        x = np.random.default_rng(0).random((1, side, side, model.in_channels), dtype=np.float32)
        kw = {"sigma": 15.0} if model.needs_sigma else {}
        engines = {
            "torch": InferenceRunner(model, device="cpu", precision="fp32", channels_last=True,
                                     threads=args.threads),
            "onnxruntime": InferenceRunner(model, device="cpu", precision="fp32",
                                           threads=args.threads, backend="onnxruntime"),
        }
        if bf16:
            engines["bf16"] = InferenceRunner(model, device="cpu", precision="bf16",
                                              channels_last=True, threads=args.threads)
        outputs = {k: r.run_batch(x, **kw) for k, r in engines.items()}  # warm-up
        seconds: dict[str, list[float]] = {k: [] for k in engines}
        for _ in range(args.rounds):
            for k, r in engines.items():
                t = time.perf_counter()
                r.run_batch(x, **kw)
                seconds[k].append(time.perf_counter() - t)
        mp = outputs["torch"].shape[1] * outputs["torch"].shape[2] / 1e6
        per = {k: min(v) / mp for k, v in seconds.items()}
        diff = float(np.abs(outputs["torch"] - outputs["onnxruntime"]).max())
        row = (f"| {name} | {model.arch} | {side} | {per['torch']:.3f} | {per['onnxruntime']:.3f} | "
               f"{per['onnxruntime'] / per['torch']:.2f} | ")
        row += f"{per['bf16']:.3f} | " if bf16 else ""
        print(row + f"{diff:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
