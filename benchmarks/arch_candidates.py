"""Architecture candidates for the colour denoiser: cost against quality on this CPU.

Issue 17 asks for the default architectures to be chosen for speed at equal quality. This
script measures the cost side for a few candidates in one run: each network is built from
restora's architecture table with random weights (seed 0; speed does not depend on the
values), saved and loaded as any weight file, and run on the 2 MP image of
``benchmarks/speed_table.py`` (1632x1224, 2 threads) through ``restora.restore`` with the
automatic tile and engine (``--backend auto``) in bf16 where the CPU has it natively, else
fp32. The reference is the official FFDNet colour model in torch fp32 as published (KAIR's
``ffdnet_color.pth`` from ``../shared/weights/kair``; the row is left out when it is absent),
timed in the same rounds. Printed per network: parameters, multiply-accumulates per pixel
(``torch.utils.flop_counter`` on a 256x256 input), seconds per megapixel (best of
``--repeat`` interleaved rounds after a warm-up) and the time ratio to FFDNet. The quality
column is CBSD68 sigma 25 where it is known: restora's shipped model (its card), FFDNet
through restora's loader, and the published DnCNN / DRUNet numbers; the others are not
trained (a candidate is trained only once its cost fits).

    .venv/bin/python benchmarks/arch_candidates.py --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
KAIR = REPO.parent / "shared" / "weights" / "kair"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_table import SIGMA, THREADS, two_megapixel_image  # noqa: E402

#: (label, architecture, options, CBSD68 sigma 25 where known)
CANDIDATES = [
    ("DRUNet 32-256, 1 block per level (shipped `denoise_color`)", "drunet",
     {"in_channels": 3, "channels": [32, 64, 128, 256], "num_blocks": 1}, "31.09 (card)"),
    ("DRUNet 24-192, 1 block", "drunet",
     {"in_channels": 3, "channels": [24, 48, 96, 192], "num_blocks": 1}, "not trained"),
    ("DRUNet 48-384, 1 block", "drunet",
     {"in_channels": 3, "channels": [48, 96, 192, 384], "num_blocks": 1}, "not trained"),
    ("DRUNet 32-256, 2 blocks", "drunet",
     {"in_channels": 3, "channels": [32, 64, 128, 256], "num_blocks": 2}, "not trained"),
    ("DRUNet 64-512, 4 blocks (the published DRUNet)", "drunet",
     {"in_channels": 3, "channels": [64, 128, 256, 512], "num_blocks": 4}, "31.69 (published)"),
    ("NAFNet width 16, 1 block per stage (blind)", "nafnet",
     {"in_channels": 3, "width": 16, "middle_blocks": 1, "enc_blocks": [1, 1, 1, 1],
      "dec_blocks": [1, 1, 1, 1]}, "not trained"),
    ("NAFNet width 32, 1 block per stage (blind)", "nafnet",
     {"in_channels": 3, "width": 32, "middle_blocks": 1, "enc_blocks": [1, 1, 1, 1],
      "dec_blocks": [1, 1, 1, 1]}, "not trained"),
    ("FFDNet colour, 12 x 96 (the official configuration)", "ffdnet",
     {"in_channels": 3, "num_features": 96, "depth": 12}, "31.20 (official weights)"),
    ("DnCNN colour, 20 x 64 (CDnCNN-B's configuration)", "dncnn",
     {"in_channels": 3, "out_channels": 3, "num_features": 64, "depth": 20}, "31.23 (published)"),
]


def build(arch: str, options: dict, folder: Path) -> Path:
    """A random network of ``arch`` saved as a restora weight file (as the trainer saves)."""
    import torch

    from restora.archs.registry import get_spec
    from restora.models import save_network

    torch.manual_seed(0)
    model = get_spec(arch).build(dict(options)).eval()
    path = folder / f"{arch}_{abs(hash(str(sorted(options.items())))) % 10**8}.safetensors"
    return save_network(model, arch, options, path, task="denoise")


def macs_per_pixel(path: Path) -> tuple[int, float, bool]:
    """(parameters, multiply-accumulates per input pixel, takes a noise level) of the
    network in ``path``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from restora.models import load_model

    desc = load_model(path)
    x = torch.rand(1, 3, 256, 256)
    args = (x, 25 / 255) if desc.needs_sigma else (x,)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        desc.model(*args)
    params = sum(p.numel() for p in desc.model.parameters())
    return params, counter.get_total_flops() / 2 / (256 * 256), desc.needs_sigma


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds after the warm-up")
    ap.add_argument("--skip", nargs="*", default=[], metavar="WORD",
                    help="leave out the candidates whose label contains one of these words")
    args = ap.parse_args(argv)

    import torch

    import restora
    from restora.models.inference import cpu_bf16_supported

    torch.set_num_threads(THREADS)
    _, noisy = two_megapixel_image()
    mp = noisy.shape[0] * noisy.shape[1] / 1e6
    precision = "bf16" if cpu_bf16_supported() else "fp32"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, arch, options, quality in CANDIDATES:
            if any(word.lower() in label.lower() for word in args.skip):
                continue
            path = build(arch, options, folder)
            params, macs, needs_sigma = macs_per_pixel(path)
            sigma = SIGMA if needs_sigma else None
            rows.append({"label": label, "params": params, "macs": macs, "quality": quality,
                         "run": lambda p=path, s=sigma: restora.restore(
                             noisy, model=p, sigma=s, device="cpu", threads=THREADS,
                             precision=precision), "best": float("inf")})
        reference = KAIR / "ffdnet_color.pth"
        if reference.is_file():
            rows.append({"label": "official FFDNet colour, torch fp32 as published (reference)",
                         "params": None, "macs": None, "quality": "31.20",
                         "run": lambda: restora.restore(noisy, model=reference, sigma=SIGMA,
                                                        device="cpu", threads=THREADS,
                                                        precision="fp32", backend="torch"),
                         "best": float("inf")})
        print(f"# {noisy.shape[1]}x{noisy.shape[0]}, {THREADS} threads, candidates in {precision} "
              f"(--backend auto), torch {torch.__version__}", flush=True)
        for round_ in range(args.repeat + 1):  # round 0: warm-up (export, compile)
            for row in rows:
                start = time.perf_counter()
                row["run"]()
                seconds = time.perf_counter() - start
                if round_:
                    row["best"] = min(row["best"], seconds)
                print(f"round {round_} {row['label']}: {seconds:.2f} s", flush=True)
    ffdnet = rows[-1]["best"] if "reference" in rows[-1]["label"] else None
    print(f"\n| network | parameters | MACs / pixel | s / MP ({precision}, auto engine) | "
          "time / FFDNet torch fp32's | CBSD68 sigma 25 |\n|---|---:|---:|---:|---:|---|")
    for row in rows:
        params = "-" if row["params"] is None else f"{row['params'] / 1e6:.2f} M"
        macs = "-" if row["macs"] is None else f"{row['macs'] / 1e3:.0f} k"
        ratio = "-" if ffdnet is None else f"{row['best'] / ffdnet:.2f}"
        print(f"| {row['label']} | {params} | {macs} | {row['best'] / mp:.2f} | {ratio} | "
              f"{row['quality']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
