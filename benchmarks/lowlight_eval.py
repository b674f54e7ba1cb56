"""Low-light enhancement: synthetic paired evaluation and NIQE on real under-exposed scans.

Paired: the first ``--limit`` CBSD68 photos (clean test images; disjoint from the
``bsd400_color`` training photos) darkened through restora's camera model
(:func:`restora.degrade.low_light`: unprocess to raw, exposure cut in linear light, shot and
read noise, demosaic, colour, gamma, tone curve, JPEG q90) at two levels, seeded per level
and image. Each method runs as users run it (``restora.restore(x, task="lowlight",
method=...)``, its default options: the revealed noise removed by the default denoiser); the
automatic mode runs ``restora.restore(x)``. Printed per level: mean PSNR / SSIM (RGB, whole
image), the colour shift against the clean photo in CIELAB (mean |hue-angle error| in
degrees over pixels whose reference chroma is at least 10, and mean a*b* distance), and
CPU seconds per image (one thread). Where the automatic plan is just the default lowlight
method (one step, full strength), its row reuses that method's output (identical to
``restora.restore(x)``) and its seconds are the plan's plus the method's. ``--crop N``
evaluates the central N x N crop of each photo (cost).

Real: NIQE (lower = more natural) of each method's output on the short exposures of the
Debevec-Malik memorial church series (PhotoCD film scans, memorial0070..0074; read from
../shared, never copied), plus the normally exposed memorial0064 for reference; LIME also
with ``-O black_point=True`` (the scans' film base lifts black to 13/16/15 of 255).
``--photos DIR`` adds real dim digital photos with a clear licence, fetched from Debian
packages by ``--fetch-photos DIR`` (``apt-get download``; checked against pinned SHA-256,
never copied into the project; see :data:`DEBIAN_PHOTOS`).

    OMP_NUM_THREADS=1 nice -n 15 .venv/bin/python benchmarks/lowlight_eval.py [--limit 50] [--crop 256]
    .venv/bin/python benchmarks/lowlight_eval.py --fetch-photos /tmp/dark --skip paired figure --photos /tmp/dark

Writes ``docs/figures/lowlight_example.png`` (a synthetic and a real crop, every method).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
#: Darkness levels: name -> (stops under, shot-noise variance, read-noise variance; raw scale).
LEVELS = {
    "3 stops": (3.0, 5e-4, 2e-7),
    "5 stops": (5.0, 5e-4, 2e-7),
}
JPEG_QUALITY = 90
METHODS = ("gamma", "clahe", "lime", "zerodce")
REAL = tuple(f"memorial00{i}.png" for i in range(70, 75))
REAL_NORMAL = "memorial0064.png"
#: Real dim photos with a clear licence, from Debian bookworm packages:
#: (file name here, package, version, path in the package, licence, SHA-256).
DEBIAN_PHOTOS = (
    ("kphotoalbum_pool_2.jpg", "kphotoalbum", "5.9.1-1", "usr/share/kphotoalbum/demo/pool_2.jpg",
     "GPL-2+", "82f0e4ec1906a55bd25050bbbc91f4af9607c10d38535cc3dbd55522a00a132f"),
    ("kphotoalbum_bar55.jpg", "kphotoalbum", "5.9.1-1", "usr/share/kphotoalbum/demo/bar55.jpg",
     "GPL-2+", "dd57f8a93ea84b46d817d3b10d496360b81588da9ea887887d057803cc39c52d"),
    ("kphotoalbum_bar55_2.jpg", "kphotoalbum", "5.9.1-1", "usr/share/kphotoalbum/demo/bar55_2.jpg",
     "GPL-2+", "e2a3ebc63306abf0a3ae898edd69fbc0a5cef16f28450ceb1d32c67c6f7b662a"),
    ("plasma_path.jpg", "plasma-workspace-wallpapers", "4:5.27.5-2",
     "usr/share/wallpapers/Path/contents/images/2560x1600.jpg",
     "GPL-2+ (Debian copyright) / LGPL-3 (its metadata.json)",
     "7477457d7f17b736259f1b021864778ad4ba802cf3214e6728181ff29126bba8"),
)
#: Pixels whose reference CIELAB chroma is below this have no reliable hue.
CHROMA_MIN = 10.0


def colour_shift(reference: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    """``(mean |hue error| in degrees, mean a*b* distance)`` in CIELAB (D65), over pixels
    whose reference chroma is at least :data:`CHROMA_MIN` (hue) or all pixels (a*b*)."""
    from skimage.color import rgb2lab

    if reference.shape[2] == 1:
        return 0.0, 0.0
    a = rgb2lab(np.clip(reference, 0, 1).astype(np.float64))
    b = rgb2lab(np.clip(test, 0, 1).astype(np.float64))
    chroma = np.hypot(a[..., 1], a[..., 2])
    ha = np.arctan2(a[..., 2], a[..., 1])
    hb = np.arctan2(b[..., 2], b[..., 1])
    dh = np.degrees(np.abs(np.angle(np.exp(1j * (ha - hb)))))
    mask = chroma >= CHROMA_MIN
    hue = float(dh[mask].mean()) if mask.any() else 0.0
    ab = float(np.hypot(a[..., 1] - b[..., 1], a[..., 2] - b[..., 2]).mean())
    return hue, ab


def runs() -> dict[str, dict]:
    """Label -> restora.restore keyword arguments."""
    out = {name: {"task": "lowlight", "method": name} for name in METHODS}
    out["zerodce, no denoising"] = {"task": "lowlight", "method": "zerodce",
                                    "options": {"denoise": False}}
    out["automatic mode"] = {}
    return out


#: Extra runs on the real scans: their film base lifts black to 13/16/15 of 255.
REAL_RUNS = {"lime, black_point": {"task": "lowlight", "method": "lime",
                                   "options": {"black_point": True}}}


def centre(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` crop of ``image`` (``size`` 0: the whole image)."""
    if size <= 0:
        return image
    h, w = image.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return np.ascontiguousarray(image[top:top + size, left:left + size])


def restore_all(image: np.ndarray, extra: dict[str, dict] | None = None
                ) -> dict[str, tuple[np.ndarray, float]]:
    """Label -> (output, CPU seconds) of every run on ``image``. The automatic mode's plan is
    made first; where it is just the default lowlight method (one step, full strength) its
    row reuses that method's output (``restora.restore(x)`` gives it bit for bit) and its
    seconds are the plan's plus the method's."""
    import restora
    from restora import auto

    outputs: dict[str, tuple[np.ndarray, float]] = {}
    for label, kwargs in {**runs(), **(extra or {})}.items():
        t = time.process_time()
        if not kwargs:
            steps = auto.plan(image).steps
            if (len(steps) == 1 and steps[0].task == "lowlight" and steps[0].strength == 1.0
                    and steps[0].runs in outputs):
                same, seconds = outputs[steps[0].runs]
                outputs[label] = (same, time.process_time() - t + seconds)
                continue
        out = restora.restore(image, **kwargs)
        outputs[label] = (out, time.process_time() - t)
    return outputs


def _luma(x: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB float image, as a one-channel image."""
    return (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None].astype(np.float32)


def paired(limit: int, levels: list[str], crop: int = 0, gray: bool = False
           ) -> dict[str, dict[str, dict[str, float]]]:
    from restora import auto
    from restora.degrade import low_light
    from restora.io import list_images, read_image
    from restora.metrics import psnr, ssim

    files = list_images(DATASETS / "cbsd68", role="test")[:limit]
    results: dict[str, dict[str, dict[str, float]]] = {}
    for li, level in enumerate(levels):
        stops, shot, read = LEVELS[level]
        rows: dict[str, list[tuple[float, ...]]] = {}
        flagged = 0  # photos the automatic mode finds under-exposed
        for i, f in enumerate(files):
            clean = centre(read_image(f).pixels, crop)
            dark = low_light(clean, np.random.default_rng([li, i]), stops=stops, shot=shot,
                             read=read, quality=JPEG_QUALITY)
            if gray:  # a monochrome photo: the luma of both (colour shift is then 0)
                clean, dark = _luma(clean), _luma(dark)
            mean, high = auto.exposure(dark)
            flagged += int(mean < auto.DARK_MEAN_BELOW and high < auto.DARK_HIGH_BELOW)
            outputs = {"dark input": (dark, 0.0), **restore_all(dark)}
            for label, (out, seconds) in outputs.items():
                hue, ab = colour_shift(clean, out)
                rows.setdefault(label, []).append(
                    (psnr(clean, out), ssim(clean, out), hue, ab, seconds))
            print(f"{level} {i + 1}/{len(files)} {f.name}: " + ", ".join(
                f"{k} {v[-1][0]:.2f}" for k, v in rows.items()), flush=True)
        results[level] = {k: dict(zip(("psnr", "ssim", "hue", "ab", "seconds"),
                                      np.mean(v, axis=0).tolist(), strict=True))
                          for k, v in rows.items()}
        results[level]["automatic mode"]["flagged"] = flagged
    return results


def fetch_photos(dest: Path) -> list[Path]:
    """Download :data:`DEBIAN_PHOTOS` into ``dest`` (``apt-get download`` + ``dpkg-deb -x``
    in a temporary folder), each checked against its SHA-256; files already there and
    matching are kept. Returns their paths."""
    import hashlib
    import subprocess
    import tempfile

    dest.mkdir(parents=True, exist_ok=True)

    def ok(path: Path, digest: str) -> bool:
        return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest

    missing = [p for p in DEBIAN_PHOTOS if not ok(dest / p[0], p[5])]
    with tempfile.TemporaryDirectory() as tmp:
        for package, version in sorted({(p[1], p[2]) for p in missing}):
            subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=tmp, check=True)
            deb = next(Path(tmp).glob(f"{package}_*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / package)], check=True)
        for name, package, _, inner, licence, digest in missing:
            data = (Path(tmp) / package / inner).read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:
                raise SystemExit(f"{package}: {inner} does not match its pinned SHA-256")
            (dest / name).write_bytes(data)
            print(f"{dest / name}: from Debian {package} ({inner}), licence {licence}")
    return [dest / p[0] for p in DEBIAN_PHOTOS]


def real(paths: list[Path]) -> dict[str, dict[str, float]]:
    """NIQE of the dark input and of every method's output on each photo in ``paths``; the
    normally exposed memorial scan too when a memorial scan is among them."""
    from restora.io import read_image
    from restora.metrics import niqe

    params = DATASETS / "iqa_models" / "niqe_pris_params.npz"
    folder = DATASETS / "exposure_brackets" / "memorial"
    scores: dict[str, list[float]] = {}
    for path in paths:
        dark = read_image(path).pixels[..., :3]
        outputs = {"dark input": dark, **{k: v[0] for k, v in restore_all(dark, REAL_RUNS).items()}}
        for label, out in outputs.items():
            scores.setdefault(label, []).append(niqe(out, params=params))
        print(f"{path.name}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in scores.items()), flush=True)
    names = [p.name for p in paths]
    out = {k: {"niqe": float(np.mean(v)), **{n: float(s) for n, s in zip(names, v, strict=True)}}
           for k, v in scores.items()}
    if any(p.parent == folder for p in paths):
        normal = niqe(read_image(folder / REAL_NORMAL).pixels, params=params)
        out[f"{REAL_NORMAL} (normal exposure)"] = {"niqe": normal}
    return out


def figure(path: Path) -> Path:
    """Two rows of crops (synthetic 5 stops with its clean photo; real memorial0070)."""
    from PIL import Image

    import restora
    from restora.bench.figures import crop_strip
    from restora.degrade import low_light
    from restora.io import list_images, read_image

    clean = read_image(list_images(DATASETS / "cbsd68", role="test")[2]).pixels
    stops, shot, read = LEVELS["5 stops"]
    dark = low_light(clean, np.random.default_rng([1, 2]), stops=stops, shot=shot, read=read,
                     quality=JPEG_QUALITY)
    real_dark = read_image(DATASETS / "exposure_brackets" / "memorial" / "memorial0070.png").pixels
    strips = []
    for image, box, reference in ((dark, (60, 150, 160), clean), (real_dark, (400, 120, 240), None)):
        images = {"dark input": image}
        extra = REAL_RUNS if reference is None else {}
        for label, kwargs in {**runs(), **extra}.items():
            if label != "zerodce, no denoising":
                images[label] = restora.restore(image, **kwargs)
        if reference is not None:
            images["clean (reference)"] = reference
        strips.append(crop_strip(images, path.with_suffix(f".{len(strips)}.png"), box=box, zoom=1))
    rows = [Image.open(s).convert("RGB") for s in strips]
    canvas = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    y = 0
    for r, s in zip(rows, strips, strict=True):
        canvas.paste(r, (0, y))
        y += r.height
        s.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=50, help="CBSD68 photos (sorted by name)")
    ap.add_argument("--levels", nargs="+", default=list(LEVELS), choices=list(LEVELS))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--figure", type=Path, default=REPO / "docs" / "figures" / "lowlight_example.png")
    ap.add_argument("--skip", nargs="*", default=[], choices=["paired", "real", "figure"])
    ap.add_argument("--crop", type=int, default=0, help="central N x N crop (0: whole photo)")
    ap.add_argument("--gray", action="store_true",
                    help="paired set in gray: the luma of the clean and the darkened photo")
    ap.add_argument("--real", nargs="*", default=list(REAL), choices=list(REAL),
                    help="memorial scans for NIQE (none: only --photos)")
    ap.add_argument("--photos", type=Path, default=None,
                    help="a folder of real dark photos for NIQE as well (e.g. the --fetch-photos folder)")
    ap.add_argument("--fetch-photos", type=Path, default=None,
                    help="download the Debian-packaged dim photos (DEBIAN_PHOTOS) into this folder")
    args = ap.parse_args(argv)

    report: dict[str, object] = {}
    if "paired" not in args.skip:
        report["paired"] = table = paired(args.limit, args.levels, args.crop, args.gray)
        for level, rows in table.items():
            found = rows["automatic mode"]["flagged"]
            size = f"central {args.crop}x{args.crop}" if args.crop else "whole photos"
            print(f"\n{level} under (CBSD68, first {args.limit}, {size}; shot 5e-4, "
                  f"JPEG q{JPEG_QUALITY}; "
                  f"the automatic mode brightens {found} of them)\n")
            print("| method | PSNR | SSIM | hue error (deg) | a*b* error | CPU s / image |")
            print("|---|---|---|---|---|---|")
            for label, r in rows.items():
                print(f"| {label} | {r['psnr']:.2f} | {r['ssim']:.3f} | {r['hue']:.2f} | "
                      f"{r['ab']:.2f} | {r['seconds']:.1f} |")
    if args.fetch_photos is not None:
        fetch_photos(args.fetch_photos)
    if "real" not in args.skip:
        from restora.io import list_images

        paths = [DATASETS / "exposure_brackets" / "memorial" / n for n in args.real]
        paths += list_images(args.photos) if args.photos is not None else []
        names = [p.name for p in paths]
        report["real"] = scores = real(paths)
        print("\n| method | NIQE (mean) | " + " | ".join(names) + " |")
        print("|---|---|" + "---|" * len(names))
        for label, r in scores.items():
            each = " | ".join(f"{r[n]:.2f}" if n in r else "-" for n in names)
            print(f"| {label} | {r['niqe']:.2f} | {each} |")
    if "figure" not in args.skip:
        print(f"\nfigure: {figure(args.figure)}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
