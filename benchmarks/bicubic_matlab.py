"""Compare restora.degrade.imresize with MATLAB's bicubic LR references (SelfExSR).

For each HR image of Set5/Set14 and scale s in {2, 3, 4}: crop HR to multiples of s
(``HR[:H - H % s, :W - W % s]``), downscale by 1/s, quantise to uint8, compare with
``../shared/datasets/sr_lr_bicubic/<set>/x<s>/<name>.png`` (MATLAB ``imresize(HR, 1/s)``).

Two ways of computing are reported:
* ``float``: float64 [0, 255] in, float out, rounded half away from zero once at the end;
* ``uint8``: uint8 in, as MATLAB does for uint8 images (each of the two passes rounded
  and saturated): this is the one that reproduces MATLAB;
* ``uint8-symmetric``: as ``uint8`` but with BasicSR's mirrored borders instead of MATLAB's
  replicated ones (only the outermost LR rows/columns change).

Run: ``.venv/bin/python benchmarks/bicubic_matlab.py`` (prints a markdown table).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from restora.degrade import imresize

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"


def load(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def lr_pair(hr: np.ndarray, s: int, mode: str) -> np.ndarray:
    h, w = hr.shape[:2]
    crop = hr[: h - h % s, : w - w % s]
    if mode == "uint8":
        return imresize(crop, 1 / s)
    if mode == "uint8-symmetric":
        return imresize(crop, 1 / s, boundary="symmetric")
    out = imresize(crop.astype(np.float64), 1 / s)
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def compare(set_name: str, s: int, mode: str, names: list[str] | None = None) -> dict[str, float]:
    hr_dir = DATA / set_name
    lr_dir = DATA / "sr_lr_bicubic" / set_name / f"x{s}"
    equal = within1 = total = 0
    max_diff = 0
    for hr_path in sorted(hr_dir.glob("*.png")) + sorted(hr_dir.glob("*.jpg")):
        if names is not None and hr_path.stem not in names:
            continue
        ref = load(lr_dir / (hr_path.stem + ".png")).astype(np.int32)
        ours = lr_pair(load(hr_path), s, mode).astype(np.int32)
        if ours.shape != ref.shape:
            raise SystemExit(f"{hr_path.name} x{s}: shape {ours.shape} != MATLAB {ref.shape}")
        d = np.abs(ours - ref)
        equal += int((d == 0).sum())
        within1 += int((d <= 1).sum())
        total += d.size
        max_diff = max(max_diff, int(d.max()))
    return {"equal": equal / total, "within1": within1 / total, "max": max_diff, "n": total}


def main() -> int:
    if not DATA.is_dir():
        print(f"shared datasets not found at {DATA}", file=sys.stderr)
        return 1
    print("| set | scale | mode | pixels | equal | within 1 | max diff |")
    print("|---|---|---|---|---|---|---|")
    for set_name in ("set5", "set14", "b100"):
        for s in (2, 3, 4):
            for mode in ("float", "uint8", "uint8-symmetric"):
                r = compare(set_name, s, mode)
                print(
                    f"| {set_name} | x{s} | {mode} | {r['n']} | {100 * r['equal']:.3f}% "
                    f"| {100 * r['within1']:.4f}% | {r['max']} |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
