"""Network throughput on a GPU: restora's tiled inference against a bare forward pass.

For each network and precision, on one synthetic ``--megapixels`` RGB image (default 8 MP,
3264x2448):

* **bare**: the whole image as one tensor already on the device, channels-last, a single
  ``model(x)`` under ``torch.inference_mode`` (bf16/fp16 through autocast), synchronised;
* **restora**: ``restora.restore(photo, model=..., device=..., precision=..., batch=...)``
  on the same image as an 8-bit HWC numpy array (a decoded photo): tiling (least-work
  tile), host-to-device copies, blending and the copy back are all inside the timing; once
  with the tiles on the device (``stream_tiled(..., device=...)``, what a GPU runs) and once with
  the numpy engine (what the CPU runs: tiles cut, blended and converted on the host).

Networks: DnCNN-colour (17 layers, 64 features; random weights: the cost does not depend on
them), NAFNet with the official SIDD configuration (width 32, blocks 2-2-4-8 / 12 / 2-2-2-2;
random weights) and restora's shipped ``denoise_color`` (DRUNet; sigma 25). Each timing is
the best of ``--repeat`` runs after one warm-up. Prints megapixels per second and the ratio
restora / bare.

    .venv/bin/python benchmarks/gpu_throughput.py                                  # cuda, 8 MP
    .venv/bin/python benchmarks/gpu_throughput.py --device cpu --megapixels 0.25 --precisions fp32
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np


def _networks(folder: Path) -> dict[str, Path]:
    import torch

    from restora.archs import DnCNN
    from restora.archs.nafnet import NAFNet
    from restora.weights import find_card

    torch.manual_seed(0)
    paths = {}
    paths["DnCNN colour (17x64)"] = folder / "dncnn.pth"
    torch.save(DnCNN(3, 3, 64, 17).state_dict(), paths["DnCNN colour (17x64)"])
    paths["NAFNet SIDD config (w32)"] = folder / "nafnet.pth"
    torch.save(NAFNet(3, width=32, middle_blocks=12, enc_blocks=(2, 2, 4, 8), dec_blocks=(2, 2, 2, 2)).state_dict(),
               paths["NAFNet SIDD config (w32)"])
    card = find_card("denoise_color")
    if card is not None and card.path.is_file():
        paths["restora denoise_color (DRUNet)"] = card.path
    return paths


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def photo_size(megapixels: float) -> tuple[int, int]:
    """(width, height) of a 4:3 photo of about ``megapixels``, both multiples of 16."""
    width = round(math.sqrt(megapixels * 1e6 * 4 / 3) / 16) * 16
    return width, round(width * 3 / 4 / 16) * 16


def _best(fn, repeat: int, device: str) -> float:
    fn()
    _sync(device)
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--megapixels", type=float, default=8.0)
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--batch", type=int, default=4, help="tiles per call on the restora side")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compile", action="store_true",
                    help="last, one more row: denoise_color with compile=True (tiles on the device)")
    args = ap.parse_args(argv)

    import torch

    import restora
    from restora.models import load_model

    width, height = photo_size(args.megapixels)
    mp = width * height / 1e6
    photo = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = photo.astype(np.float32) / 255
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU"
    print(f"# {name}, torch {torch.__version__}, image {width}x{height} ({mp:.2f} MP), batch {args.batch}\n")
    print("| network | precision | bare forward (MP/s) | restora, tiles on the device (MP/s) "
          "| restora, numpy tiles (MP/s) | device tiles / bare |")
    print("|---|---|---|---|---|---|")
    from restora.models.inference import InferenceRunner

    decide = InferenceRunner.tiles_on_device
    dtypes = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
    with tempfile.TemporaryDirectory() as tmp:
        networks = _networks(Path(tmp))
        for label, path in networks.items():
            desc = load_model(path)
            sigma = 25.0 if desc.needs_sigma else None
            net = desc.model.to(args.device).eval().to(memory_format=torch.channels_last)
            x = torch.from_numpy(image.transpose(2, 0, 1)[None].copy()).to(args.device)
            x = x.contiguous(memory_format=torch.channels_last)
            for precision in args.precisions.split(","):
                dtype = dtypes[precision]

                def bare(net=net, x=x, dtype=dtype, sigma=sigma) -> None:
                    with torch.inference_mode(), torch.autocast(
                            args.device.split(":")[0], dtype=dtype or torch.float32, enabled=dtype is not None):
                        net(x, sigma / 255.0) if sigma is not None else net(x)

                def tiled(path=path, precision=precision, sigma=sigma) -> None:
                    restora.restore(photo, task="denoise", model=path, sigma=sigma, device=args.device,
                                    precision=precision, batch=args.batch)

                try:
                    t_bare = _best(bare, args.repeat, args.device)
                except torch.OutOfMemoryError:
                    t_bare = math.nan
                    torch.cuda.empty_cache()
                times = {}
                for on_device in (True, False):  # the engine, forced either way for this row
                    InferenceRunner.tiles_on_device = property(lambda self, on=on_device: on)
                    times[on_device] = _best(tiled, args.repeat, args.device)
                InferenceRunner.tiles_on_device = decide
                print(f"| {label} | {precision} | {mp / t_bare:.3g} | {mp / times[True]:.3g} | "
                      f"{mp / times[False]:.3g} | {t_bare / times[True]:.2f} |", flush=True)
            del net, x
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
        card_path = networks.get("restora denoise_color (DRUNet)")
        if args.compile and card_path is not None:
            precision = args.precisions.split(",")[-1]

            def compiled() -> None:
                restora.restore(photo, task="denoise", model=card_path, sigma=25.0, device=args.device,
                                precision=precision, batch=args.batch, compile=True, backend="torch")

            start = time.perf_counter()
            compiled()  # compiles for each tile stack shape
            first = time.perf_counter() - start
            t_compiled = _best(compiled, args.repeat, args.device)
            print(f"| restora denoise_color, compile=True (first call {first:.0f} s) | {precision} | - | "
                  f"{mp / t_compiled:.3g} | - | - |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
