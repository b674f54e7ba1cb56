"""Camera-noise pipeline vs real camera noise, and the real-noise estimator's error.

Writes docs/figures/camera_noise_pipeline.png (clean | pipeline at low / high ISO |
realistic_mix | two real noisy crops from nam_real_noise, zoomed) and prints:
1. estimate_real_noise and estimate_sigma on synthetic AWGN (sigma 0..50) on CBSD68 crops;
2. both on the 25 nam_real_noise pairs, against the true residual std (noisy - gt,
   per-channel mean removed, quadratic mean over channels), 8-bit units;
3. noise statistics (RMS, inter-channel correlation, lag-1 spatial autocorrelation of the
   residual) of camera_pipeline / realistic_mix output on the nam gt images vs the real pairs.

Usage: .venv/bin/python benchmarks/camera_noise.py [--shared ../shared] [--awgn-images 3]
Needs ../shared/datasets (cbsd68, nam_real_noise) and matplotlib (the "bench" extra).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from restora.degrade import camera_pipeline, realistic_mix
from restora.estimate import estimate_real_noise, estimate_sigma

REPO = Path(__file__).resolve().parents[1]


def read(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0


def true_rms(noisy: np.ndarray, clean: np.ndarray) -> float:
    """Residual std in 8-bit units: per-channel mean removed, quadratic mean over channels."""
    r = (noisy.astype(np.float64) - clean) * 255.0
    return float(np.sqrt(np.mean((r - r.mean(axis=(0, 1))) ** 2)))


def noise_stats(noisy: np.ndarray, clean: np.ndarray) -> tuple[float, float, float]:
    """(RMS, mean inter-channel correlation, mean lag-1 horizontal/vertical autocorrelation)."""
    r = (noisy.astype(np.float64) - clean) * 255.0
    r = r - r.mean(axis=(0, 1))
    c = np.corrcoef(r.reshape(-1, 3).T)
    inter = float((c[0, 1] + c[0, 2] + c[1, 2]) / 3)
    v = (r**2).mean()
    lag = float(((r[:, 1:] * r[:, :-1]).mean() + (r[1:] * r[:-1]).mean()) / (2 * v))
    return float(np.sqrt(v)), inter, lag


def figure(nam: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clean = read(nam / "gt" / "05_gt.png")
    crop = (slice(300, 396), slice(200, 296))  # a flat-to-edge area, shown at 4x
    low = camera_pipeline(clean, np.random.default_rng(0), shot=3e-4, read=math.exp(2.18 * math.log(3e-4) + 1.2))
    high = camera_pipeline(clean, np.random.default_rng(0), shot=6e-3, read=math.exp(2.18 * math.log(6e-3) + 1.2))
    mix = realistic_mix(clean, np.random.default_rng(3))
    real1 = read(nam / "noisy" / "05_noise.png")
    real2 = read(nam / "noisy" / "18_noise.png")
    clean2 = read(nam / "gt" / "18_gt.png")
    panels = [
        ("clean (nam 05 gt)", clean, clean),
        ("camera_pipeline, low ISO\nshot 3e-4", low, clean),
        ("camera_pipeline, high ISO\nshot 6e-3", high, clean),
        ("realistic_mix (seed 3)", mix, clean),
        ("real: nam 05 single shot", real1, clean),
        ("real: nam 18 single shot", real2, clean2),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 4.0))
    for ax, (title, img, ref) in zip(axes, panels):
        ax.imshow(np.clip(img[crop], 0, 1), interpolation="nearest")
        rms = "" if img is ref else f"\nresidual RMS {true_rms(img[crop], ref[crop]):.1f}"
        ax.set_title(title + rms, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def awgn_table(cbsd: Path, n_images: int) -> None:
    files = sorted(cbsd.glob("*.png"))[:n_images]
    crops = []
    for f in files:
        im = read(f)
        h, w = im.shape[:2]
        crops.append(im[(h - 256) // 2 : (h + 256) // 2, (w - 256) // 2 : (w + 256) // 2])
    print(f"\n## AWGN on {n_images} CBSD68 images (centre 256x256), 8-bit units")
    print("| sigma | estimate_real_noise mean (max abs err) | estimate_sigma mean (max abs err) |")
    print("|---|---|---|")
    new_err, old_err = [], []
    for sigma in range(0, 55, 5):
        nv, ov = [], []
        for i, c in enumerate(crops):
            noisy = c + np.random.default_rng(i).standard_normal(c.shape).astype(np.float32) * sigma / 255
            nv.append(estimate_real_noise(noisy).sigma)
            ov.append(estimate_sigma(noisy))
        ne, oe = np.abs(np.array(nv) - sigma), np.abs(np.array(ov) - sigma)
        new_err.extend(ne)
        old_err.extend(oe)
        print(f"| {sigma} | {np.mean(nv):.2f} ({ne.max():.2f}) | {np.mean(ov):.2f} ({oe.max():.2f}) |")
    print(f"| MAE all | {np.mean(new_err):.2f} | {np.mean(old_err):.2f} |")
    print(f"| MAE sigma>=5 | {np.mean(new_err[n_images:]):.2f} | {np.mean(old_err[n_images:]):.2f} |")


def real_table(nam: Path) -> None:
    print("\n## nam_real_noise pairs (true = std of noisy - gt), 8-bit units")
    print("| pair | true RMS | estimate_real_noise | ratio | whiteness | estimate_sigma |")
    print("|---|---|---|---|---|---|")
    ratios, old = [], []
    t0 = time.perf_counter()
    for i in range(1, 26):
        noisy, gt = read(nam / "noisy" / f"{i:02d}_noise.png"), read(nam / "gt" / f"{i:02d}_gt.png")
        true = true_rms(noisy, gt)
        res = estimate_real_noise(noisy)
        o = estimate_sigma(noisy)
        ratios.append(res.sigma / true)
        old.append(o / true)
        print(f"| {i:02d} | {true:.2f} | {res.sigma:.2f} | {res.sigma / true:.2f} | {res.whiteness:.2f} | {o:.2f} |")
    r = np.array(ratios)
    print(f"\nmean ratio {r.mean():.3f}, median {np.median(r):.3f}, mean |ratio-1| {np.mean(np.abs(r - 1)):.3f}, "
          f"within 15%: {int(np.sum(np.abs(r - 1) < 0.15))}/25; estimate_sigma mean ratio {np.mean(old):.3f}; "
          f"{(time.perf_counter() - t0) / 25:.1f} s per pair (both estimators)")


def stats_table(nam: Path) -> None:
    print("\n## Residual statistics: synthetic (on the 25 nam gt images) vs real (mean over images)")
    print("| source | RMS | inter-channel corr. | lag-1 autocorr. |")
    print("|---|---|---|---|")
    rows: dict[str, list[tuple[float, float, float]]] = {}
    low = (3e-4, math.exp(2.18 * math.log(3e-4) + 1.2))
    for i in range(1, 26):
        noisy, gt = read(nam / "noisy" / f"{i:02d}_noise.png"), read(nam / "gt" / f"{i:02d}_gt.png")
        rng = np.random.default_rng(i)
        rows.setdefault("real (nam single shot)", []).append(noise_stats(noisy, gt))
        rows.setdefault("camera_pipeline, shot 3e-4 (RMS-matched)", []).append(
            noise_stats(camera_pipeline(gt, rng, shot=low[0], read=low[1]), gt))
        rows.setdefault("camera_pipeline, random ISO", []).append(noise_stats(camera_pipeline(gt, rng), gt))
        rows.setdefault("realistic_mix", []).append(noise_stats(realistic_mix(gt, rng), gt))
        rows.setdefault("AWGN sigma 3.5", []).append(
            noise_stats(gt + rng.standard_normal(gt.shape).astype(np.float32) * 3.5 / 255, gt))
    for name, vals in rows.items():
        v = np.array(vals)
        print(f"| {name} | {np.median(v[:, 0]):.2f} (median) | {v[:, 1].mean():.2f} | {v[:, 2].mean():.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--awgn-images", type=int, default=3)
    ap.add_argument("--figure", type=Path, default=REPO / "docs" / "figures" / "camera_noise_pipeline.png")
    args = ap.parse_args()
    nam, cbsd = args.shared / "datasets" / "nam_real_noise", args.shared / "datasets" / "cbsd68"
    figure(nam, args.figure)
    stats_table(nam)
    real_table(nam)
    awgn_table(cbsd, args.awgn_images)


if __name__ == "__main__":
    main()
