"""Camera RAW development: synthetic DNG round trip (PSNR) and the speed of each step.

A known scene (tests/raw/raw_builders.py: an astronaut crop above a chart of flat patches)
is unprocessed to an RGGB mosaic (Brooks et al. 2019), given the Poisson-Gaussian noise of
restora's ISO relation at each ISO, and written as a 16-bit DNG. Then:

- PSNR (dB, RGB, [0, 1]) against the clean mosaic developed by the same pipeline of
  - the noisy development (``raw_develop="develop"``: no denoising anywhere),
  - the noisy development denoised afterwards in sRGB by the default colour denoiser,
  - restora's development (``restora restore photo.dng -o out.tif``: the default, denoised
    in the linear domain by the default gray denoiser), read back from the 16-bit TIFF;
- the noise model: the ISO relation (what the file's ISO gives) and the estimate from the
  mosaic, against the true shot/read variances;
- seconds per megapixel (of the mosaic) of each step: decode (LibRaw + normalisation),
  noise estimate, denoise (Anscombe + 4 planes + inverse), demosaic (white balance +
  Malvar), colour (matrix, brightness, sRGB curve), encode (16-bit TIFF with EXIF).

Usage: .venv/bin/python benchmarks/raw_roundtrip.py [--size 512 768] [--iso 800 6400]
       [--seed 1] [--threads N]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import restora
from restora.io import Metadata, Photo, read_image, write_image
from restora.io import raw_develop as rd
from restora.run import Restorer

REPO = Path(__file__).resolve().parents[1]


def builders():
    spec = importlib.util.spec_from_file_location("raw_builders",
                                                  REPO / "tests" / "raw" / "raw_builders.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["raw_builders"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def run_iso(b, image: np.ndarray, iso: float, seed: int, folder: Path) -> dict:
    shot = b.shoot(image, iso=iso, seed=seed)
    dng = b.write_dng(folder / f"iso{int(iso)}.dng", shot, iso=iso)
    mp = shot.noisy.size / 1e6
    rd.read_raw(dng)  # warm-up: imports, the file in the page cache
    raw, t_decode = timed(rd.read_raw, dng)
    estimate, t_estimate = timed(rd.estimate_raw_noise, raw.data)
    model = rd.noise_model(raw)  # the file's ISO

    def denoise(plane, sigma):
        return restora.restore(plane, task="denoise", sigma=min(sigma, 255.0))

    # warm-up (imports, the network's first load) so that the timings are per-step work
    restora.restore(np.zeros((16, 16, 1), np.float32), task="denoise", sigma=1.0)
    rd.develop(raw.data[:16, :16], raw.pattern, wb=raw.wb, cam2rgb=raw.cam2rgb)
    (mosaic, sigma), t_denoise = timed(rd.denoise_mosaic, raw.data, model, denoise)
    balanced = rd.white_balance(mosaic, raw.pattern, raw.wb)
    camera_rgb, t_demosaic = timed(rd.demosaic_bayer, balanced, raw.pattern)
    t_demosaic += timed(rd.white_balance, mosaic, raw.pattern, raw.wb)[1]
    srgb, t_colour = timed(rd.camera_to_srgb, camera_rgb, raw.cam2rgb)
    photo = Photo(pixels=srgb, bit_depth=16, metadata=Metadata(exif=raw.exif))
    _, t_encode = timed(write_image, photo, folder / "steps.tif", overwrite=True)

    reference = rd.develop(shot.clean, raw.pattern, wb=raw.wb, cam2rgb=raw.cam2rgb)
    noisy = rd.develop(raw.data, raw.pattern, wb=raw.wb, cam2rgb=raw.cam2rgb)
    srgb_denoised = restora.restore(noisy, task="denoise")
    out = folder / f"iso{int(iso)}.tif"
    (_, report), t_total = timed(Restorer().run_file, dng, out)
    restored = read_image(out).pixels
    return {
        "iso": iso, "mp": mp, "sigma": sigma, "report": report.runs,
        "psnr_noisy": b.psnr(noisy, reference),
        "psnr_srgb": b.psnr(srgb_denoised, reference),
        "psnr_steps": b.psnr(srgb, reference),
        "psnr_restore": b.psnr(restored, reference),
        "true": (shot.shot, shot.read), "iso_model": (model.shot, model.read),
        "estimate": (estimate.shot, estimate.read),
        "speed": {"decode": t_decode, "noise estimate": t_estimate, "denoise": t_denoise,
                  "demosaic": t_demosaic, "colour": t_colour, "encode": t_encode,
                  "restora restore (all)": t_total},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=(512, 768), metavar=("H", "W"))
    parser.add_argument("--iso", type=float, nargs="+", default=(800, 6400))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    b = builders()
    image = b.scene(*args.size)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for iso in args.iso:
            results.append(run_iso(b, image, iso, args.seed, Path(tmp)))
    h, w = args.size
    print(f"\nSynthetic DNG {w}x{h} (seed {args.seed}); PSNR (dB) against the clean mosaic "
          "developed the same way\n")
    print("| ISO | noisy development | + sRGB denoise_color | restora restore (linear denoise) "
          "| gain | sigma after Anscombe |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['iso']:g} | {r['psnr_noisy']:.2f} | {r['psnr_srgb']:.2f} | "
              f"{r['psnr_restore']:.2f} | {r['psnr_restore'] - r['psnr_noisy']:+.2f} | "
              f"{r['sigma']:.1f} |")
    print("\nNoise model (variances on the normalised raw scale: Var = shot * x + read)\n")
    print("| ISO | true shot / read | ISO relation | estimated from the mosaic (ratio to true) |")
    print("|---|---|---|---|")
    for r in results:
        (ts, tr), (ms, mr), (es, er) = r["true"], r["iso_model"], r["estimate"]
        print(f"| {r['iso']:g} | {ts:.3g} / {tr:.3g} | {ms:.3g} / {mr:.3g} | {es:.3g} / "
              f"{er:.3g} ({es / ts:.2f} / {er / tr:.2f}) |")
    print("\nSeconds per megapixel of mosaic\n")
    steps = list(results[0]["speed"])
    print("| step | " + " | ".join(f"ISO {r['iso']:g}" for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for step in steps:
        print(f"| {step} | " + " | ".join(f"{r['speed'][step] / r['mp']:.2f}" for r in results)
              + " |")
    print("\n(step-by-step development PSNR: "
          + ", ".join(f"ISO {r['iso']:g} {r['psnr_steps']:.2f}" for r in results)
          + f"; report: {results[0]['report']})")


if __name__ == "__main__":
    main()
