"""Real camera noise: restora's automatic mode and denoisers on nam_real_noise, and the
automatic mode on clean photos.

Prints one table (mean PSNR / SSIM over RGB uint8 against the mean-of-many-shots reference,
and the worst image) for: the noisy input; ``restora restore`` in the automatic mode (no
option); ``--task denoise``; ``--model denoise_real``; ``denoise_color`` and the official
FFDNet colour model with sigma fixed at 10 by hand; OpenCV's
``fastNlMeansDenoisingColored(h=5)``. Then the automatic mode on 20 clean photos (LIVE1,
saved as quality-95 JPEGs the way a camera would): PSNR of its output against the original
minus the input's (must be >= -0.1 dB), and what the plan did.

Every restora row goes through :class:`restora.run.Restorer` on the decoded PNG, as
``restora restore`` does.

Usage: .venv/bin/python benchmarks/real_noise_eval.py [--shared ../shared] [--model denoise_real]
    [--rows auto,auto-fp32,auto-x8,denoise,real,color10,color11-x8,ffdnet10,nlm] [--clean 20] [--speed] [--figure]
"""

from __future__ import annotations

import argparse
import io
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from restora.io import read_image
from restora.metrics import psnr, ssim
from restora.options import Choice, Execution, Params
from restora.run import Restorer

ROWS = ("auto", "auto-fp32", "auto-x8", "denoise", "real", "color10", "color11-x8", "ffdnet10", "nlm")


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def _restorers(shared: Path, model: str) -> dict[str, tuple[str, Restorer | None, Params]]:
    ffdnet = shared / "weights" / "kair" / "ffdnet_color.pth"
    return {
        "auto": ("`restora restore NOISY -o OUT.png` (automatic, no option)", Restorer(Choice()), Params()),
        "auto-fp32": ("the same, `--precision fp32`", Restorer(Choice(), Execution(precision="fp32")), Params()),
        "auto-x8": ("the same, `--ensemble` (x8 flips and rotations)", Restorer(Choice(), Execution(ensemble=True)),
                    Params()),
        "denoise": ("`--task denoise` (the default for the photo)", Restorer(Choice(task="denoise")), Params()),
        "real": (f"`--model {model}` (blind)", Restorer(Choice(task="denoise", model=model)), Params()),
        "color10": ("`--model denoise_color --sigma 10` (sigma by hand)",
                    Restorer(Choice(task="denoise", model="denoise_color")), Params(sigma=10.0)),
        "color11-x8": ("`--model denoise_color --sigma 11 --ensemble --precision fp32` (sigma by hand)",
                       Restorer(Choice(task="denoise", model="denoise_color"),
                                Execution(ensemble=True, precision="fp32")), Params(sigma=11.0)),
        "ffdnet10": ("official FFDNet colour, `--sigma 10` (sigma by hand)",
                     Restorer(Choice(task="denoise", model=str(ffdnet))), Params(sigma=10.0)),
        "nlm": ("OpenCV `fastNlMeansDenoisingColored(h=5)`", None, Params()),
    }


def nam_table(shared: Path, rows: list[str], model: str) -> None:
    import cv2

    root = shared / "datasets" / "nam_real_noise"
    noisy_files = sorted((root / "noisy").glob("*_noise.png"))
    pairs = [(n, root / "gt" / n.name.replace("_noise", "_gt")) for n in noisy_files]
    restorers = _restorers(shared, model)
    results: dict[str, list[tuple[float, float]]] = {"input": []}
    seconds: dict[str, float] = {}
    refs = []
    for noisy_path, gt_path in pairs:
        photo = read_image(noisy_path)
        gt = _u8(read_image(gt_path).pixels)
        refs.append((photo, gt))
        x = _u8(photo.pixels)
        results["input"].append((psnr(gt, x), ssim(gt, x)))
    for row in rows:
        label, restorer, params = restorers[row]
        scores = []
        t0 = time.perf_counter()
        for photo, gt in refs:
            if restorer is None:
                bgr = cv2.cvtColor(_u8(photo.pixels), cv2.COLOR_RGB2BGR)
                out = cv2.cvtColor(cv2.fastNlMeansDenoisingColored(bgr, None, 5, 5, 7, 21), cv2.COLOR_BGR2RGB)
            else:
                out = _u8(restorer.run_photo(photo, params)[0].pixels)
            scores.append((psnr(gt, out), ssim(gt, out)))
        seconds[row] = time.perf_counter() - t0
        results[row] = scores
    print(f"nam_real_noise: {len(pairs)} pairs, RGB uint8 against the reference")
    print("| what was run | mean PSNR | mean SSIM | worst PSNR (image) | seconds |")
    print("|---|---|---|---|---|")
    names = [p[0].name.split("_")[0] for p in pairs]
    for row, scores in results.items():
        label = "the noisy input" if row == "input" else restorers[row][0]
        p = np.array([s[0] for s in scores])
        s = np.array([s[1] for s in scores])
        worst = int(np.argmin(p))
        sec = f"{seconds[row]:.1f}" if row in seconds else ""
        print(f"| {label} | {p.mean():.2f} | {s.mean():.4f} | {p[worst]:.2f} ({names[worst]}) | {sec} |")


def clean_check(shared: Path, count: int) -> None:
    from PIL import Image

    files = sorted((shared / "datasets" / "live1").glob("*.png"))[:count]
    auto = Restorer(Choice())
    deltas, acted = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            original = np.asarray(Image.open(f).convert("RGB"))
            buf = io.BytesIO()
            Image.fromarray(original).save(buf, format="JPEG", quality=95)
            path = Path(tmp) / (f.stem + ".jpg")
            path.write_bytes(buf.getvalue())
            photo = read_image(path)
            out, report = auto.run_photo(photo)
            before = psnr(original, _u8(photo.pixels))
            after = psnr(original, _u8(out.pixels))
            deltas.append(after - before)
            if report.plan is not None and report.plan.steps:
                acted.append(f"{f.stem}: {report.runs}")
    d = np.array(deltas)
    print(f"\nautomatic mode on {len(files)} clean LIVE1 photos saved as JPEG q95: PSNR change "
          f"mean {d.mean():+.3f} dB, worst {d.min():+.3f} dB; acted on {len(acted)}")
    for line in acted:
        print("  " + line)


def speed(shared: Path, model: str) -> None:
    """Seconds per megapixel of the blind model (restora's defaults: ``--precision auto``,
    ``--backend auto``) against official FFDNet colour as published (torch fp32) and through
    restora's defaults, on the same 2 MP photo, best of 3 rounds in this one run (ratios, not
    absolute speeds, are the result)."""
    import cv2
    from skimage import data

    image = cv2.resize(data.astronaut(), (1632, 1224), interpolation=cv2.INTER_CUBIC)
    pixels = image.astype(np.float32) / 255.0
    mp = image.shape[0] * image.shape[1] / 1e6
    ffdnet = Choice(task="denoise", model=str(shared / "weights" / "kair" / "ffdnet_color.pth"))
    rows = [(f"`{model}` (blind), restora's defaults", Restorer(Choice(task="denoise", model=model)), Params()),
            ("official FFDNet colour (sigma 10), restora's defaults", Restorer(ffdnet), Params(sigma=10.0)),
            ("official FFDNet colour (sigma 10), torch fp32 as published",
             Restorer(ffdnet, Execution(precision="fp32", backend="torch")), Params(sigma=10.0))]
    print(f"\nspeed on one {image.shape[1]}x{image.shape[0]} ({mp:.1f} MP) photo, this run:")
    print("| model | s/MP | ratio to FFDNet as published |\n|---|---|---|")
    for _, restorer, params in rows:
        restorer.run(pixels[:64, :64], params)  # load and warm up
    best = [math.inf] * len(rows)
    for _ in range(3):
        for i, (_, restorer, params) in enumerate(rows):
            t0 = time.perf_counter()
            restorer.run(pixels, params)
            best[i] = min(best[i], (time.perf_counter() - t0) / mp)
    for (label, _, _), t in zip(rows, best, strict=True):
        print(f"| {label} | {t:.2f} | {t / best[-1]:.2f} |")


FIGURE = Path(__file__).resolve().parents[1] / "docs" / "figures" / "real_noise_crops.png"


def figure(shared: Path, names: tuple[str, ...] = ("03", "10", "18", "25"), crop: int = 128,
           zoom: int = 2) -> Path:
    """docs/figures/real_noise_crops.png: per photo, noisy | automatic mode | reference
    (centre crops, enlarged ``zoom`` x by pixel repetition)."""
    from PIL import Image, ImageDraw

    root = shared / "datasets" / "nam_real_noise"
    auto_mode = Restorer(Choice())
    rows = []
    for n in names:
        photo = read_image(root / "noisy" / f"{n}_noise.png")
        out = _u8(auto_mode.run_photo(photo)[0].pixels)
        gt = _u8(read_image(root / "gt" / f"{n}_gt.png").pixels)
        h, w = gt.shape[:2]
        top, left = (h - crop) // 2, (w - crop) // 2
        tiles = [a[top : top + crop, left : left + crop] for a in (_u8(photo.pixels), out, gt)]
        rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255)
                                    for t in tiles], axis=1))
    grid = np.concatenate(rows, axis=0).repeat(zoom, 0).repeat(zoom, 1)
    canvas = Image.new("RGB", (grid.shape[1], grid.shape[0] + 24), "white")
    canvas.paste(Image.fromarray(grid), (0, 24))
    draw = ImageDraw.Draw(canvas)
    step = grid.shape[1] // 3
    for i, label in enumerate(("noisy (single shot)", "restora, automatic", "reference (mean of shots)")):
        draw.text((i * step + 8, 6), label, fill="black")
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(FIGURE)
    return FIGURE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--model", default="denoise_real", help="the blind real-photo model (name or file)")
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--clean", type=int, default=20, help="clean photos to check (0: skip)")
    ap.add_argument("--speed", action="store_true", help="also time the blind model against FFDNet")
    ap.add_argument("--figure", action="store_true", help="write docs/figures/real_noise_crops.png")
    args = ap.parse_args()
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise SystemExit(f"error: unknown rows {unknown}; choose from {ROWS}")
    nam_table(args.shared, rows, args.model)
    if args.clean:
        clean_check(args.shared, args.clean)
    if args.speed:
        speed(args.shared, args.model)
    if args.figure:
        print(f"wrote {figure(args.shared)}")


if __name__ == "__main__":
    main()
