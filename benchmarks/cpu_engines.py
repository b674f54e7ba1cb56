"""Which engine runs each architecture fastest on this CPU: torch, ONNX Runtime or OpenVINO.

For every shipped model (and the official FFDNet / DnCNN from ``../shared/weights/kair``
when present) one random tile goes through :class:`restora.models.inference.InferenceRunner`
with ``backend="torch"`` (fp32, channels-last: the torch CPU path), ``backend="onnxruntime"``
(fp32), ``backend="openvino"`` (fp32; when ``import openvino`` works) and, where the CPU has
native bf16, torch bf16 autocast and OpenVINO bf16. Rounds are interleaved (engine A, B, C,
A, B, C, ...) and the best of ``--rounds`` is kept, so other load on the machine hits every
engine alike. Prints seconds per megapixel of output, the ratios to torch in the same
precision (below 1: the graph engine is faster) and the largest output difference from torch
fp32. :attr:`restora.archs.registry.ArchSpec.cpu_engines` is set from this table.

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
    from restora.models.onnxrt import engine_available

    bf16, ov = cpu_bf16_supported(), engine_available("openvino")
    print(f"CPU: {platform.processor() or platform.machine()}, native bf16: {bf16}, "
          f"OpenVINO: {ov}, threads: {args.threads}, best of {args.rounds} interleaved rounds\n")
    # (column, backend, precision); ratios are to torch in the same precision
    plan = [("torch fp32", "torch", "fp32"), ("ORT fp32", "onnxruntime", "fp32")]
    plan += [("OpenVINO fp32", "openvino", "fp32")] if ov else []
    plan += [("torch bf16", "torch", "bf16")] if bf16 else []
    plan += [("OpenVINO bf16", "openvino", "bf16")] if bf16 and ov else []
    heads = [c for c, _, _ in plan] + [f"{c} / torch" for c, b, _ in plan if b != "torch"]
    heads += [f"{c} max diff" for c, _, _ in plan if c != "torch fp32"]
    print("| model | architecture | tile | " + " | ".join(f"{h}{' s/MP' if '/' not in h and 'diff' not in h else ''}"
                                                   for h in heads) + " |")
    print("|---|---|---|" + "---:|" * len(heads))
    for name, path in models():
        model = load_model(path)
        if not get_spec(model.arch).onnx:
            print(f"| {name} | {model.arch} | - | " + "- | " * (len(heads) - 1)
                  + "not exported: its forward pass depends on the input size |", flush=True)
            continue
        side = SIDES.get(model.task, SIDE)
        x = np.random.default_rng(0).random((1, side, side, model.in_channels), dtype=np.float32)
        kw = {"sigma": 15.0} if model.needs_sigma else {}
        engines = {c: InferenceRunner(model, device="cpu", precision=p, channels_last=True,
                                      threads=args.threads, backend=b) for c, b, p in plan}
        outputs = {k: r.run_batch(x, **kw) for k, r in engines.items()}  # warm-up
        seconds: dict[str, list[float]] = {k: [] for k in engines}
        for _ in range(args.rounds):
            for k, r in engines.items():
                t = time.perf_counter()
                r.run_batch(x, **kw)
                seconds[k].append(time.perf_counter() - t)
        mp = outputs["torch fp32"].shape[1] * outputs["torch fp32"].shape[2] / 1e6
        per = {k: min(v) / mp for k, v in seconds.items()}
        cells = [f"{per[c]:.3f}" for c, _, _ in plan]
        cells += [f"{per[c] / per['torch ' + p]:.2f}" for c, b, p in plan if b != "torch"]
        cells += [f"{float(np.abs(outputs['torch fp32'] - outputs[c]).max()):.1e}"
                  for c, _, _ in plan if c != "torch fp32"]
        print(f"| {name} | {model.arch} | {side} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
