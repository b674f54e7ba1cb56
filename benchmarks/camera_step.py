"""How the automatic mode's camera-noise step was chosen, and where its readings go wrong.

Parts (``--parts``, all by default):

* ``sweep``: nam_real_noise, 25 pairs: ``denoise_real`` (blind) and ``denoise_color`` at a
  fixed sigma 6..14 on every photo, the best sigma per photo (oracle), sigma = K x the
  camera reading with K chosen leave-one-out (PSNR interpolated linearly between the swept
  sigmas, clamped to 6..14), and ``denoise_real`` followed by ``denoise_color`` at sigma 8.
* ``jpeg``: every third pair saved as a quality-70 JPEG: the camera step alone, deblocking
  then the camera step, and ``denoise_real``.
* ``structure``: the first 20 LIVE1 photos as quality-95 JPEGs, clean and with AWGN sigma
  3/5/10/25 (seed 0): the finest-scale white estimate and
  :func:`restora.auto.residual_structure` at it.
* ``variants``: the colour model at a fixed sigma, plain, as an x8 self-ensemble and
  pixel-shuffled (PD, Zhou et al. 2020), on the 25 pairs.
* ``originals``: the 68 CBSD68 originals (PNG, no noise added): which ones the reading
  takes for camera noise, and the PSNR of the automatic mode's output against them.
* ``models``: each noise-map colour model of ``--models`` (names or files; fp32, untiled)
  on the 25 pairs at a fixed sigma 7..17, the best sigma per photo, and its luma / chroma
  error (BT.601 YCbCr) at sigma 11; then on synthetic in-camera noise (the trainer's
  ``pair_fraction`` degradation: a camera_pair residual on the clean photo) over the centre
  192 px of the 16 first B100 photos outside CBSD68, at a noise map of 1 / 1.5 / 2 x the
  noise's RMS.

PSNR: RGB, uint8 output, against the reference. Every restora run is ``restora.restore``.

    .venv/bin/python benchmarks/camera_step.py [--parts sweep jpeg structure originals variants models]
        [--models denoise_color FILE ...]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"
SIGMAS = (6, 8, 10, 12, 14)


def _u8(y: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(y) * 255), 0, 255) / 255


def _jpeg(x: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())), np.float32) / 255


def _pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    from restora.io import read_image

    root = DATA / "nam_real_noise"
    return [(n.stem[:2], read_image(n).pixels,
             read_image(root / "gt" / n.name.replace("_noise", "_gt")).pixels)
            for n in sorted((root / "noisy").glob("*_noise.png"))]


def sweep() -> None:
    import restora
    from restora import auto
    from restora.metrics import psnr

    readings, table, real, cascade = [], [], [], []
    for name, x, gt in _pairs():
        readings.append(auto.read_noise(x).camera)
        row = [psnr(gt, _u8(restora.restore(x, task="denoise", model="denoise_color", sigma=s)))
               for s in SIGMAS]
        blind = restora.restore(x, task="denoise", model="denoise_real")
        real.append(psnr(gt, _u8(blind)))
        cascade.append(psnr(gt, _u8(restora.restore(blind, task="denoise", model="denoise_color",
                                                     sigma=8))))
        table.append(row)
        print(name, readings[-1], [round(v, 2) for v in row], flush=True)
    p, r = np.array(table), np.array(readings)

    def at(i: int, sigma: float) -> float:
        return float(np.interp(sigma, SIGMAS, p[i]))

    ks = np.arange(2.0, 9.01, 0.25)
    loo, chosen = [], []
    for j in range(len(r)):
        means = [np.mean([at(i, k * r[i]) for i in range(len(r)) if i != j]) for k in ks]
        k = float(ks[int(np.argmax(means))])
        chosen.append(k)
        loo.append(at(j, k * r[j]))
    print("| nam_real_noise, 25 pairs, mean RGB PSNR | |\n|---|---|")
    print(f"| `denoise_real` (blind) on every photo | {np.mean(real):.2f} |")
    print("| `denoise_color` at a fixed sigma " + " / ".join(map(str, SIGMAS)) + " | "
          + " / ".join(f"{v:.2f}" for v in p.mean(axis=0)) + " |")
    print(f"| `denoise_color` at the best sigma per photo (oracle) | {p.max(axis=1).mean():.2f} |")
    print(f"| sigma = K x reading, K leave-one-out (K chosen: {sorted(set(chosen))}) | "
          f"{np.mean(loo):.2f} |")
    print(f"| `denoise_real`, then `denoise_color` at sigma 8 | {np.mean(cascade):.2f} |")


def jpeg() -> None:
    import restora
    from restora import auto
    from restora.metrics import psnr

    rows = []
    for name, x, gt in _pairs()[::3]:
        noisy = _jpeg(x, 70)
        sigma = auto.camera_sigma(auto.read_noise(noisy, jpeg=True).camera)
        deblocked = restora.restore(noisy, task="deblock", quality=70)
        rows.append([psnr(gt, _u8(restora.restore(noisy, task="denoise", model="denoise_color", sigma=sigma))),
                     psnr(gt, _u8(restora.restore(deblocked, task="denoise", model="denoise_color",
                                                  sigma=sigma))),
                     psnr(gt, _u8(restora.restore(noisy, task="denoise", model="denoise_real")))])
        print(name, [round(v, 2) for v in rows[-1]], flush=True)
    m = np.mean(rows, axis=0)
    print(f"quality 70, {len(rows)} pairs: camera step alone {m[0]:.2f}, deblock then camera step "
          f"{m[1]:.2f}, denoise_real {m[2]:.2f}")


def structure() -> None:
    from restora import auto
    from restora.estimate import estimate_sigma
    from restora.io import read_image

    noisy_max, clean = -1.0, []
    for f in sorted((DATA / "live1").glob("*.png"))[:20]:
        x = read_image(f).pixels
        cells = []
        for s in (0, 3, 5, 10, 25):
            n = x if s == 0 else np.clip(x + np.random.default_rng(0).normal(0, s / 255, x.shape), 0, 1)
            j = _jpeg(n.astype(np.float32), 95)
            w = estimate_sigma(auto._centre(j), luma_only=True)
            c = auto.residual_structure(j, max(w, 1.0), "denoise_color")
            cells.append(f"s{s}: w={w:.2f} c={c:.3f}")
            if s:
                noisy_max = max(noisy_max, c)
            else:
                clean.append((f.stem, w, c))
        print(f.stem, " | ".join(cells), flush=True)
    print(f"largest structure with AWGN 3-25: {noisy_max:.3f}; clean photos: "
          + ", ".join(f"{n} {c:.2f} (w {w:.1f})" for n, w, c in clean))


def originals() -> None:
    from restora import auto
    from restora.io import read_image
    from restora.metrics import psnr
    from restora.options import Choice
    from restora.run import Restorer

    restorer, hits = Restorer(Choice()), []
    files = sorted((DATA / "cbsd68").glob("*.png"))
    for f in files:
        photo = read_image(f)
        reading = auto.read_noise(photo.pixels)
        if reading.kind == "camera":
            out, _ = restorer.run_photo(photo)
            hits.append((f.stem, reading.camera, psnr(photo.pixels, out.pixels)))
            print(f.stem, reading.camera, round(hits[-1][2], 2), flush=True)
    print(f"{len(hits)} of {len(files)} CBSD68 originals read as camera noise (readings "
          f"{min(h[1] for h in hits):.2f}-{max(h[1] for h in hits):.2f}); output vs original "
          f"{min(h[2] for h in hits):.1f}-{max(h[2] for h in hits):.1f} dB")


def _pixel_shuffled(x: np.ndarray, sigma: float) -> np.ndarray:
    """``denoise_color`` on the four 2x2 pixel-shuffled sub-images of ``x`` (as one mosaic),
    put back in place: pixel-shuffle down-sampling (Zhou et al., AAAI 2020) breaks the
    spatial correlation that demosaicking gives camera noise."""
    import restora

    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    subs = [x[i:h:2, j:w:2] for i in (0, 1) for j in (0, 1)]
    mosaic = np.concatenate([np.concatenate(subs[:2], 1), np.concatenate(subs[2:], 1)], 0)
    d = restora.restore(mosaic, task="denoise", model="denoise_color", sigma=sigma)
    sh, sw = subs[0].shape[:2]
    out = x.copy()
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        out[i:h:2, j:w:2] = d[(k // 2) * sh:(k // 2 + 1) * sh, (k % 2) * sw:(k % 2 + 1) * sw]
    return out


def variants() -> None:
    """Other ways to run the colour model on the 25 real pairs, each at a fixed sigma:
    plain at 12, the x8 self-ensemble at 12, pixel-shuffled at 4 and 6, and the mean of
    pixel-shuffled (6) and plain (12)."""
    import restora
    from restora.metrics import psnr

    rows: dict[str, list[float]] = {}
    for name, x, gt in _pairs():
        plain = restora.restore(x, task="denoise", model="denoise_color", sigma=12)
        shuffled = {s: _pixel_shuffled(x, s) for s in (4, 6)}
        outs = {"plain, sigma 12": plain,
                "x8 ensemble, sigma 12": restora.restore(x, task="denoise", model="denoise_color",
                                                         sigma=12, ensemble=True),
                "pixel-shuffled, sigma 4": shuffled[4], "pixel-shuffled, sigma 6": shuffled[6],
                "mean of pixel-shuffled 6 and plain 12": 0.5 * (shuffled[6] + plain)}
        for label, y in outs.items():
            rows.setdefault(label, []).append(psnr(gt, _u8(y)))
        print(name, {k: round(v[-1], 2) for k, v in rows.items()}, flush=True)
    print("\n| denoise_color on nam_real_noise (25 pairs) | mean PSNR | worst |\n|---|---|---|")
    for label, v in rows.items():
        print(f"| {label} | {np.mean(v):.2f} | {np.min(v):.2f} |")


#: B100 photos that are not in CBSD68 (the manifest's CBSD432 extras), first 16
B100_EXTRAS = ("156065", "361010", "37073", "376043", "38082", "38092", "385039", "41033", "41069",
               "42012", "42049", "43074", "45096", "54082", "55073", "58060")
#: BT.601 RGB -> YCbCr (full range, no offsets)
YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def models(names: list[str]) -> None:
    import restora
    from restora.io import read_image
    from restora.metrics import psnr
    from restora.train.config import DegradationConfig
    from restora.train.data import degrade_pair

    sigmas = (7, 9, 11, 13, 15, 17)
    pairs = _pairs()
    synthetic = DegradationConfig(kind="gaussian", pair_fraction=1.0, shot_min=1e-5, shot_max=4e-3,
                                  noise_blur_max=1.0, noise_blur_fraction=0.75)
    rng = np.random.default_rng(0)
    crops = []
    for name in B100_EXTRAS:
        c = read_image(DATA / "b100" / f"{name}.jpg").pixels
        h, w = c.shape[:2]
        clean = np.ascontiguousarray(c[h // 2 - 96 : h // 2 + 96, w // 2 - 96 : w // 2 + 96], np.float32)
        crops.append(degrade_pair(clean, synthetic, rng))
    print("| model | nam, sigma " + " / ".join(map(str, sigmas)) + " | best per photo | "
          "luma / chroma MSE at 11 | synthetic: input / map x1 / x1.5 / x2 |\n|---|---|---|---|---|")
    for model in names:
        table, errors = [], []
        for _, x, gt in pairs:
            row = []
            for s in sigmas:
                y = _u8(restora.restore(x, model=model, sigma=s, precision="fp32", tile=0))
                row.append(psnr(gt, y))
                if s == 11:
                    e = (y - gt) @ YCBCR.T * 255
                    errors.append(((e[..., 0] ** 2).mean(), (e[..., 1:] ** 2).mean()))
            table.append(row)
        p = np.array(table)
        synth = [[psnr(clean, _u8(noisy))] + [psnr(clean, _u8(restora.restore(
            noisy, model=model, sigma=k * rms, precision="fp32", tile=0))) for k in (1, 1.5, 2)]
            for clean, noisy, rms in crops]
        luma, chroma = np.mean(errors, axis=0)
        print(f"| {model} | " + " / ".join(f"{v:.2f}" for v in p.mean(0)) + f" | {p.max(1).mean():.2f} | "
              f"{luma:.2f} / {chroma:.2f} | " + " / ".join(f"{v:.2f}" for v in np.mean(synth, 0)) + " |",
              flush=True)


PARTS = {"sweep": sweep, "jpeg": jpeg, "structure": structure, "originals": originals,
         "variants": variants, "models": models}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    parser.add_argument("--models", nargs="+", default=["denoise_color"],
                        help="noise-map colour models for the 'models' part (names or files)")
    args = parser.parse_args()
    for part in args.parts:
        print(f"== {part}")
        PARTS[part](args.models) if part == "models" else PARTS[part]()


if __name__ == "__main__":
    main()
