"""The automatic mode's noise reading (:func:`restora.auto.read_noise`): its error on
synthetic AWGN and on real camera-noise pairs, and the decision it leads to.

1. AWGN sigma 0..50 (8-bit units) added to the first ``--awgn-images`` CBSD68 photos (seed =
   image index, no clipping, saved to float): the finest-scale white estimate (mean and
   largest |error|), the camera-noise reading, the residual structure and the decision
   (``white`` / ``camera`` / ``texture`` / ``clean``) per sigma.
2. The 25 nam_real_noise pairs: the true residual RMS (noisy - reference, per-channel mean
   removed, quadratic mean over channels) against the camera-noise reading and the white
   estimate; the decision and the sigma of the camera step (:func:`restora.auto.camera_sigma`).

Writes ``docs/figures/noise_reading.png`` (both panels).

    .venv/bin/python benchmarks/noise_reading.py [--shared ../shared] [--awgn-images 10]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIGMAS = (0, 2, 5, 10, 15, 25, 35, 50)


def main() -> None:
    from restora import auto
    from restora.io import read_image

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--awgn-images", type=int, default=10)
    parser.add_argument("--figure", type=Path, default=REPO / "docs" / "figures" / "noise_reading.png")
    args = parser.parse_args()
    data = args.shared / "datasets"

    # 1. synthetic AWGN
    photos = [read_image(p).pixels for p in sorted((data / "cbsd68").glob("*.png"))[: args.awgn_images]]
    awgn: dict[int, list] = {}
    print(f"AWGN on {len(photos)} CBSD68 photos")
    print("| sigma | white estimate: mean (max abs error) | camera reading: mean | decisions |")
    print("|---|---|---|---|")
    for sigma in SIGMAS:
        readings = []
        for i, clean in enumerate(photos):
            noisy = clean + np.random.default_rng(i).normal(0, sigma / 255, clean.shape)
            readings.append(auto.read_noise(noisy.astype(np.float32)))
        awgn[sigma] = readings
        white = np.array([r.white for r in readings])
        camera = [r.camera for r in readings if r.camera is not None]
        kinds = Counter(r.kind for r in readings)
        print(f"| {sigma} | {white.mean():.2f} ({np.abs(white - sigma).max():.2f}) | "
              f"{np.mean(camera) if camera else float('nan'):.2f} | "
              + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) + " |", flush=True)

    # 2. real pairs
    root = data / "nam_real_noise"
    rows = []
    print("\nnam_real_noise (25 real pairs)")
    print("| pair | true RMS | camera reading | ratio | white estimate | decision | camera-step sigma |")
    print("|---|---|---|---|---|---|---|")
    for noisy_path in sorted((root / "noisy").glob("*_noise.png")):
        noisy = read_image(noisy_path).pixels
        gt = read_image(root / "gt" / noisy_path.name.replace("_noise", "_gt")).pixels
        r = (noisy.astype(np.float64) - gt) * 255
        true = float(np.sqrt(np.mean(r.var(axis=(0, 1)))))
        reading = auto.read_noise(noisy)
        cam = reading.camera
        rows.append((true, cam, reading.white, reading.kind))
        step = f"{auto.camera_sigma(cam):g}" if reading.kind == "camera" else "-"
        print(f"| {noisy_path.stem[:2]} | {true:.2f} | {cam} | "
              f"{'-' if cam is None else f'{cam / true:.2f}'} | {reading.white:.2f} | "
              f"{reading.kind} | {step} |", flush=True)
    true = np.array([t for t, c, _, _ in rows if c is not None])
    cam = np.array([c for _, c, _, _ in rows if c is not None])
    print(f"\ncamera reading / true RMS: mean {np.mean(cam / true):.2f}, "
          f"range {np.min(cam / true):.2f}-{np.max(cam / true):.2f}, "
          f"correlation {np.corrcoef(cam, true)[0, 1]:.2f}; white estimate / true RMS: "
          f"{np.mean([w / t for t, _, w, _ in rows]):.2f}; decisions: "
          + ", ".join(f"{k} {v}" for k, v in sorted(Counter(k for *_, k in rows).items())))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    s = np.array(SIGMAS, dtype=float)
    a.plot(s, s, "k:", lw=1, label="truth")
    a.errorbar(s, [np.mean([r.white for r in awgn[x]]) for x in SIGMAS],
               yerr=[np.std([r.white for r in awgn[x]]) for x in SIGMAS], marker="o",
               label="white estimate (finest scale)")
    a.plot(s, [np.mean([r.camera for r in awgn[x] if r.camera is not None] or [np.nan])
               for x in SIGMAS], marker="s", label="camera-noise reading")
    a.axhline(auto.NOISE_THRESHOLD, color="gray", lw=0.8)
    a.set(xlabel="AWGN sigma (8-bit)", ylabel="reading (8-bit)",
          title=f"Synthetic AWGN, {len(photos)} CBSD68 photos")
    a.legend(fontsize=8)
    all_true = np.array([t for t, *_ in rows])
    b.scatter(true, cam, label="camera-noise reading", marker="s")
    b.scatter(all_true, [w for _, _, w, _ in rows], label="white estimate", marker="o")
    lim = max(all_true.max(), cam.max()) * 1.1
    b.plot([0, lim], [0, lim], "k:", lw=1)
    b.axhline(auto.CAMERA_THRESHOLD, color="gray", lw=0.8)
    b.set(xlabel="true residual RMS (noisy - reference, 8-bit)", ylabel="reading (8-bit)",
          title="nam_real_noise, 25 real pairs", xlim=(0, lim), ylim=(0, lim))
    b.legend(fontsize=8)
    fig.tight_layout()
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=110)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
