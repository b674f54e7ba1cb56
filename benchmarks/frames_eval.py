"""Multi-frame photography: exposure fusion / HDR and burst denoising, measured.

Prints markdown tables and writes three figures to docs/figures/:

1. Memorial church (Debevec & Malik 1997; ../shared/datasets/exposure_brackets/memorial), 5
   frames two stops apart (8 s .. 1/32 s), the blue padding cropped (20 px): time, MTB shifts,
   ghost-removal share, dynamic range of the radiance map, and its reprojection error (each
   frame re-exposed from the radiance through the recovered response, RMS in 8-bit levels
   over the pixels well exposed in that frame). Figure frames_memorial.png.
2. Synthetic brackets of a known linear radiance image (astronaut linearised, lit by a
   10-stop gradient; camera response gamma 1/2.2 + smoothstep; clipping; 8 bits): HDR merge
   error (RMS log2 radiance, stops, up to one scale) for Debevec / Robertson; alignment error
   of mtb / ecc / tiles under known shifts (mean |displacement error| px) and the HDR error
   with and without alignment.
3. Synthetic bursts (astronaut, coffee, chelsea; 256 px; shifts up to 6 px, rotations up to
   1 degree; camera noise via restora.degrade.camera, one camera per burst) at two ISO-like
   noise levels: PSNR against burst length 1/2/4/8 for wiener / mean merges, alignment tiles
   and off, and tiles + wiener followed by the shipped denoiser through the runner.
4. A night scene (coffee, darkened 16x in the raw domain, heavy sensor noise, brightened
   back): one frame, the single-frame denoiser, an 8-frame merge, merge + denoiser. Figure
   frames_night.png; and frames_burst_psnr.png (PSNR against burst length).

Usage: nice -n 15 .venv/bin/python benchmarks/frames_eval.py [--shared ../shared] [--quick]
       [--parts memorial,brackets,bursts,night]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from restora.degrade.camera import add_camera_noise, process, unprocess
from restora.frames.align import Alignment, align, warp
from restora.frames.burst import merge_burst
from restora.frames.fuse import calibrate_response, fuse_exposures, merge_hdr
from restora.frames.synthetic import brackets, burst
from restora.io import read_image
from restora.io.image import Photo
from restora.options import Choice, Frames, Params
from restora.run import Restorer

REPO = Path(__file__).resolve().parents[1]
FIGURES = REPO / "docs" / "figures"
MEMORIAL = ("memorial0063.png", "memorial0065.png", "memorial0067.png", "memorial0069.png",
            "memorial0071.png")


def psnr(a: np.ndarray, b: np.ndarray, border: int = 16) -> float:
    s = slice(border, -border)
    return float(10 * np.log10(1.0 / np.mean((np.clip(a[s, s], 0, 1) - b[s, s]) ** 2)))


def linear_scene(stops: float = 10.0) -> np.ndarray:
    from skimage import data

    img = data.astronaut()[::2, ::2].astype(np.float32) / 255.0
    lin = np.where(img <= 0.04045, img / 12.92, ((img + 0.055) / 1.055) ** 2.4)
    light = 2.0 ** np.linspace(-stops / 2, stops / 2, lin.shape[1], dtype=np.float32)
    return ((lin + 0.003) * light[None, :, None] * 0.25).astype(np.float32)


def stops_error(estimate: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    r = np.log2(np.maximum(estimate[mask], 1e-12)) - np.log2(truth[mask])
    r -= np.median(r)
    return float(np.sqrt(np.mean(r**2)))


def well_exposed(frames: list[np.ndarray]) -> np.ndarray:
    return np.any([((f > 0.05) & (f < 0.95)).all(axis=2) for f in frames], axis=0)


# --- 1. memorial -------------------------------------------------------------------------------


def memorial(shared: Path) -> None:
    folder = shared / "datasets" / "exposure_brackets" / "memorial"
    if not folder.is_dir():
        print(f"(skipped: {folder} not present)")
        return
    times_all = dict(line.split() for line in (folder / "times.txt").read_text().splitlines()
                     if line.strip())
    frames = [read_image(folder / n).pixels[20:-20, 20:-20] for n in MEMORIAL]
    times = [float(times_all[n]) for n in MEMORIAL]
    print("\n### Memorial church, 5 frames 2 stops apart (8 s ... 1/32 s), 472x728 px\n")
    print("| merge | align | seconds | shifts found (px) | ghost share | range (stops, p0.1-p99.9) "
          "| reprojection RMS (8-bit levels) |")
    print("|---|---|---|---|---|---|---|")
    results = {}
    for merge, align_method in (("mertens", "mtb"), ("debevec", "mtb"), ("debevec", "ecc"),
                                ("robertson", "mtb")):
        start = time.perf_counter()
        fused = fuse_exposures(frames, times=None if merge == "mertens" else times, merge=merge,
                               align_method=align_method, sigma=2.0)
        seconds = time.perf_counter() - start
        shifts = "; ".join(f"{dx:+.1f},{dy:+.1f}" for dx, dy in (a.shift for a in fused.alignments))
        ghost = 100 * (1 - np.mean([w for k, w in enumerate(fused.weights) if k != fused.reference]))
        rng_text, reproj = "-", "-"
        if fused.radiance is not None:
            lum = fused.radiance.mean(axis=2)
            lo, hi = np.percentile(lum[lum > 0], [0.1, 99.9])
            rng_text = f"{np.log2(hi / lo):.1f}"
            reproj = f"{reprojection(frames, times, fused.radiance, merge):.1f}"
        results[(merge, align_method)] = fused
        print(f"| {merge} | {align_method} | {seconds:.1f} | {shifts} | {ghost:.1f} % | {rng_text} "
              f"| {reproj} |")
    figure_memorial(frames, times, results)


def reprojection(frames: list[np.ndarray], times: list[float], radiance: np.ndarray,
                 method: str) -> float:
    """RMS (8-bit levels) of each frame against ``response^-1(radiance x time)``, over the
    pixels well exposed in that frame; the radiance's scale is fitted (median ratio)."""
    response = calibrate_response(frames, times, method=method)  # exposure per 8-bit value
    errors = []
    for frame, t in zip(frames, times):
        value = np.round(frame * 255).astype(int)
        ok = (value > 12) & (value < 243)
        exposure = response[value, np.arange(frame.shape[2])[None, None, :]]
        ok &= np.isfinite(exposure) & (exposure > 0)
        scale = np.median(exposure[ok] / np.maximum(radiance[ok] * t, 1e-12))
        predicted = np.empty_like(frame)
        for c in range(frame.shape[2]):  # invert the response (monotone) by interpolation
            curve = np.maximum.accumulate(np.nan_to_num(response[:, c], nan=0.0, posinf=0.0))
            predicted[..., c] = np.interp(radiance[..., c] * t * scale, curve, np.arange(256))
        errors.append((predicted - value)[ok])
    return float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))


def figure_memorial(frames, times, results) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 7.4))
    grid = fig.add_gridspec(2, 5, height_ratios=[1, 1.6])
    for k, (frame, t) in enumerate(zip(frames, times)):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(frame)
        ax.set_title(f"input {t:g} s" if t >= 1 else f"input 1/{1 / t:.0f} s", fontsize=9)
        ax.axis("off")
    panels = [("Mertens fusion (no times)", results[("mertens", "mtb")].image),
              ("Debevec HDR, drago", results[("debevec", "mtb")].image),
              ("Robertson HDR, drago", results[("robertson", "mtb")].image)]
    for k, (title, image) in enumerate(panels):
        ax = fig.add_subplot(grid[1, k])
        ax.imshow(np.clip(image, 0, 1))
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    ax = fig.add_subplot(grid[1, 3:])
    for method, style in (("debevec", "-"), ("robertson", "--")):
        response = calibrate_response(frames, times, method=method)
        for c, colour in enumerate("rgb"):
            ax.semilogy(np.arange(256), response[:, c] / response[128, c], style, color=colour,
                        lw=1, label=f"{method} {colour.upper()}" if c == 1 else None)
    ax.set_xlabel("pixel value")
    ax.set_ylabel("relative exposure")
    ax.set_title("recovered camera response (film scan)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "frames_memorial.png", dpi=80)
    plt.close(fig)
    print(f"\nwrote {FIGURES / 'frames_memorial.png'}")


# --- 2. synthetic brackets ----------------------------------------------------------------------


def synthetic_brackets() -> None:
    rad = linear_scene()
    print("\n### Synthetic brackets of a known radiance (10-stop scene, 256x256, 8 bits)\n")
    print("| frames | noise (8-bit std) | Debevec error (stops RMS) | Robertson error | "
          "best single frame | well-exposed share |")
    print("|---|---|---|---|---|---|")
    for times in ([1 / 16, 1 / 4, 1, 4, 16], [1 / 8, 1, 8]):
        for sigma in (0.0, 2.0):
            frames = brackets(rad, times, sigma=sigma, rng=np.random.default_rng(1))
            mask = well_exposed(frames)
            deb = stops_error(merge_hdr(frames, times), rad, mask)
            rob = stops_error(merge_hdr(frames, times, method="robertson"), rad, mask)
            single = min(stops_error(np.maximum(f, 1e-3), rad, mask) for f in frames)
            label = f"{len(times)} x {np.log2(times[1] / times[0]):.0f} stops"
            print(f"| {label} | {sigma:g} | {deb:.3f} | {rob:.3f} | {single:.2f} | "
                  f"{100 * mask.mean():.0f} % |")
    times = [1 / 16, 1 / 4, 1, 4, 16]
    rng = np.random.default_rng(2)
    shifts = [(0.0, 0.0) if k == 2 else tuple(float(v) for v in np.round(rng.uniform(-6, 6, 2) * 4) / 4)
              for k in range(5)]
    frames = brackets(rad, times, shifts=shifts)
    print(f"\nKnown shifts (dx, dy) per frame, reference = middle: {shifts}\n")
    print("| align | mean displacement error per frame (px) | seconds | Debevec error (stops) |")
    print("|---|---|---|---|")
    inner = (slice(16, -16), slice(16, -16))
    mask = well_exposed(frames)[inner]
    h, w = rad.shape[:2]
    for method in ("off", "mtb", "ecc", "tiles", "true shifts"):
        start = time.perf_counter()
        if method == "true shifts":  # the floor: resampling the frames by the exact motion
            found = [Alignment(matrix=np.array([[1, 0, dx], [0, 1, dy]], np.float64))
                     for dx, dy in shifts]
        else:
            found = align(frames, reference=2, method=method, motion="translation")
        seconds = time.perf_counter() - start
        errors = []
        for a, (dx, dy) in zip(found, shifts):
            d = a.displacement(h, w)[inner]
            errors.append(float(np.hypot(d[..., 0] - dx, d[..., 1] - dy).mean()))
        aligned = [warp(f, a)[0] for f, a in zip(frames, found)]
        err = stops_error(merge_hdr(aligned, times)[inner], rad[inner], mask)
        text = " / ".join(f"{e:.2f}" for k, e in enumerate(errors) if k != 2)
        print(f"| {method} | {text} | {seconds:.2f} | {err:.3f} |")


# --- 3. bursts ------------------------------------------------------------------------------------

#: (label, shot, read): raw-scale noise variances (restora.degrade.camera.add_camera_noise).
LEVELS = (("ISO-like 1600", 2.5e-3, 1.0e-5), ("ISO-like 6400", 1.0e-2, 1.6e-4))


def scenes(quick: bool) -> list[np.ndarray]:
    from skimage import data

    names = ("astronaut", "coffee", "chelsea")[: 1 if quick else 3]
    out = []
    for name in names:
        img = getattr(data, name)().astype(np.float32) / 255.0
        h, w = img.shape[:2]
        out.append(img[h // 2 - 150:h // 2 + 150, w // 2 - 150:w // 2 + 150])
    return out


def bursts(quick: bool) -> dict:
    lengths = (1, 2, 4, 8)
    restorer = Restorer(Choice(task="denoise"))
    table: dict[tuple[str, str], list[float]] = {}
    singles: dict[str, float] = {}
    sigmas: dict[str, float] = {}
    for label, shot, read in LEVELS:
        for k, image in enumerate(scenes(quick)):
            clean, frames, _ = burst(image, 8, size=(256, 256), max_shift=6, max_rotation=1.0,
                                     shot=shot, read=read, rng=np.random.default_rng(10 + k))
            sigmas.setdefault(label, 0.0)
            sigmas[label] += float(np.std((frames[0] - clean) * 255)) / len(scenes(quick))
            for count in lengths:
                for method, align_method in (("wiener", "tiles"), ("mean", "tiles"),
                                             ("wiener", "off"), ("mean", "off")):
                    merged = merge_burst(frames[:count], method=method,
                                         align_method=align_method).merged
                    key = (label, f"{method}, align {align_method}")
                    table.setdefault(key, [0.0] * len(lengths))
                    table[key][lengths.index(count)] += psnr(merged, clean) / len(scenes(quick))
                photos = [Photo(pixels=f) for f in frames[:count]]
                if count == 1:
                    out, _ = restorer.run(frames[0], Params())
                else:
                    out = restorer.run_frames(photos, Frames(merge="wiener"))[0].pixels
                key = (label, "wiener, align tiles, + denoiser")
                table.setdefault(key, [0.0] * len(lengths))
                table[key][lengths.index(count)] += psnr(out, clean) / len(scenes(quick))
            singles.setdefault(label, 0.0)
            singles[label] += psnr(frames[0], clean) / len(scenes(quick))
    print("\n### Bursts: PSNR (dB) against burst length, 256x256, mean of "
          f"{len(scenes(quick))} scenes\n")
    print("| noise | merge | 1 | 2 | 4 | 8 |")
    print("|---|---|---|---|---|---|")
    for (label, name), values in table.items():
        print(f"| {label} (one frame: {singles[label]:.2f} dB, std {sigmas[label]:.1f}) | {name} | "
              + " | ".join(f"{v:.2f}" for v in values) + " |")
    return {"table": table, "lengths": lengths, "singles": singles}


def figure_bursts(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label for label, _, _ in LEVELS]
    fig, axes = plt.subplots(1, len(labels), figsize=(11, 4), sharey=False)
    for ax, label in zip(np.atleast_1d(axes), labels):
        for (lvl, name), values in result["table"].items():
            if lvl == label:
                ax.plot(result["lengths"], values, "o-", label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(result["lengths"], [str(n) for n in result["lengths"]])
        ax.set_xlabel("frames in the burst")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(FIGURES / "frames_burst_psnr.png", dpi=80)
    plt.close(fig)
    print(f"\nwrote {FIGURES / 'frames_burst_psnr.png'}")


# --- 4. night scene -----------------------------------------------------------------------------


def night() -> None:
    """Coffee, 16x too dark in the raw domain, strong sensor noise, brightened back."""
    from skimage import data

    image = data.coffee().astype(np.float32) / 255.0
    gain, shot, read = 16.0, 4e-4, 2e-6  # per-frame noise on the dark raw
    rng = np.random.default_rng(5)
    seed = 123
    clean_big = image
    _, warped, _ = burst(clean_big, 8, size=(360, 520), max_shift=6, max_rotation=1.0, rng=rng)
    frames, clean = [], None
    for k, frame in enumerate(warped):
        raw, meta = unprocess(frame, np.random.default_rng(seed))
        if k == 0:
            clean = process(raw, meta).astype(np.float32)
        dark = add_camera_noise(raw / gain, shot, read, rng)
        frames.append(np.clip(process(dark * gain, meta), 0, 1).astype(np.float32))
    assert clean is not None
    restorer = Restorer(Choice(task="denoise"))
    start = time.perf_counter()
    single, report1 = restorer.run(frames[0], Params())
    t1 = time.perf_counter() - start
    photos = [Photo(pixels=f) for f in frames]
    start = time.perf_counter()
    merged_only, _ = Restorer(Choice(task="denoise")).run_frames(
        photos, Frames(merge="wiener", denoise=False))
    t2 = time.perf_counter() - start
    start = time.perf_counter()
    merged, report = restorer.run_frames(photos, Frames(merge="wiener"))
    t3 = time.perf_counter() - start
    panels = [("one frame", frames[0]), (f"one frame + denoiser ({report1.runs})", single),
              ("8 frames merged (wiener, tiles)", merged_only.pixels),
              ("8 frames merged + denoiser", merged.pixels), ("clean", clean)]
    print("\n### Night scene (coffee, 520x360, darkened 16x in raw, 8 frames)\n")
    print("| result | PSNR (dB) | seconds |")
    print("|---|---|---|")
    for (title, img), sec in zip(panels, (None, t1, t2, t3, None)):
        if title != "clean":
            print(f"| {title} | {psnr(img, clean):.2f} | {'-' if sec is None else f'{sec:.1f}'} |")
    print(f"\nrunner report: {report.decision}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    crop = (slice(90, 290), slice(150, 450))
    fig, axes = plt.subplots(1, 5, figsize=(16, 2.9))
    for ax, (title, img) in zip(axes, panels):
        ax.imshow(np.clip(img[crop], 0, 1), interpolation="nearest")
        score = "" if title == "clean" else f"\n{psnr(img, clean):.2f} dB"
        ax.set_title(title + score, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(FIGURES / "frames_night.png", dpi=80)
    plt.close(fig)
    print(f"\nwrote {FIGURES / 'frames_night.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--quick", action="store_true", help="one burst scene (a smoke run)")
    parser.add_argument("--parts", default="memorial,brackets,bursts,night",
                        help="comma-separated parts to run")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    start = time.perf_counter()
    if "memorial" in parts:
        memorial(args.shared)
    if "brackets" in parts:
        synthetic_brackets()
    if "bursts" in parts:
        figure_bursts(bursts(args.quick))
    if "night" in parts:
        night()
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
