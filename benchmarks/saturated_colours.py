"""Colour denoisers on saturated colours: crops made from LIVE1, AWGN sigma 15/25/50.

Our colour training photos (BSD) are muted; phone photos are not. The crops: from each
LIVE1 photo (a test set, never trained on) the 256 px square with the highest mean CIELAB
chroma (stride 64), its saturation raised x1.6 about the luma and its exposure by +0.3
stop in linear light, clipped per channel (:func:`restora.degrade.colour_jitter` with fixed
settings: strong, partly clipped colours). AWGN seeded per image (seed = index), PSNR over
RGB on uint8 output, as ``restora eval``. Each model runs whole on the crop through
``restora.restore(x, model=..., sigma=...)``.

    .venv/bin/python benchmarks/saturated_colours.py [--models denoise_color PATH ...]
        [--sigmas 15 25 50] [--shared ../shared]

Default models: the shipped ``denoise_color`` and, when present, the official FFDNet colour
weights in ``../shared/weights/kair`` (reference only; never copied).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CROP, STRIDE = 256, 64


def saturated_crops(live1: Path) -> list[tuple[str, np.ndarray]]:
    """``(name, crop)`` per LIVE1 photo: its most chromatic 256 px square, made stronger."""
    from skimage.color import rgb2lab

    from restora.degrade import colour_jitter
    from restora.io import read_image

    out = []
    for path in sorted(live1.glob("*.png")):
        x = read_image(path).pixels
        if x.shape[2] != 3 or min(x.shape[:2]) < CROP:
            continue
        lab = rgb2lab(x.astype(np.float64))
        chroma = np.hypot(lab[..., 1], lab[..., 2])
        best, where = -1.0, (0, 0)
        for top in range(0, x.shape[0] - CROP + 1, STRIDE):
            for left in range(0, x.shape[1] - CROP + 1, STRIDE):
                c = float(chroma[top : top + CROP, left : left + CROP].mean())
                if c > best:
                    best, where = c, (top, left)
        crop = x[where[0] : where[0] + CROP, where[1] : where[1] + CROP]
        strong = colour_jitter(crop, np.random.default_rng(0), white_balance=(1, 1),
                               exposure_stops=(0.3, 0.3), saturation=(1.6, 1.6), hue_degrees=0.0)
        out.append((path.stem, np.round(strong * 255) / 255))
    return out


def main() -> None:
    import restora
    from restora.degrade import add_gaussian_noise
    from restora.metrics import psnr

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--sigmas", nargs="+", type=float, default=[15, 25, 50])
    args = parser.parse_args()
    models = args.models or ["denoise_color"]
    ffdnet = args.shared / "weights" / "kair" / "ffdnet_color.pth"
    if args.models is None and ffdnet.is_file():
        models.append(str(ffdnet))
    crops = saturated_crops(args.shared / "datasets" / "live1")
    from skimage.color import rgb2lab

    chroma = np.mean([np.hypot(*rgb2lab(c)[..., 1:].transpose(2, 0, 1)).mean() for _, c in crops])
    print(f"{len(crops)} crops of {CROP} px from LIVE1, mean CIELAB chroma {chroma:.1f}")
    print("| model | " + " | ".join(f"sigma {s:g}" for s in args.sigmas) + " |")
    print("|---|" + "---|" * len(args.sigmas))
    for model in models:
        cells = []
        for sigma in args.sigmas:
            scores = []
            for i, (_, clean) in enumerate(crops):
                noisy = add_gaussian_noise(clean, sigma, seed=i).astype(np.float32)
                out = restora.restore(noisy, model=model, sigma=sigma, tile=None)
                scores.append(psnr(clean, np.clip(np.rint(out * 255), 0, 255) / 255))
            cells.append(f"{np.mean(scores):.2f}")
        print(f"| {Path(model).name if '/' in model else model} | " + " | ".join(cells) + " |",
              flush=True)


if __name__ == "__main__":
    main()
