"""The automatic mode's exposure test on clean photos: which would be brightened.

Reads every photo of the clean sets in ``../shared/datasets`` (bsd400_color, val20, B100,
Set5, Set14, LIVE1, Sun-Hays80, CBSD68), computes :func:`restora.auto.exposure` (mean and
95th percentile of the luma) and prints the darkest ones and any photo the thresholds
(``DARK_MEAN_BELOW``, ``DARK_HIGH_BELOW``) would flag; ``--photos DIR`` adds real dark photos
(e.g. the ``benchmarks/lowlight_eval.py --fetch-photos`` folder).

    .venv/bin/python benchmarks/exposure_survey.py [--photos /tmp/dark]
"""

from __future__ import annotations

import argparse
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SETS = ("bsd400_color", "val20", "b100", "set5", "set14", "live1", "sun_hays80", "cbsd68")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=Path, default=None)
    ap.add_argument("--darkest", type=int, default=8)
    args = ap.parse_args(argv)

    from restora import auto
    from restora.io import list_images, read_image

    rows = []
    for name in SETS:
        for path in list_images(DATA / name):
            mean, high = auto.exposure(read_image(path).pixels)
            rows.append((mean, high, name, path.name))
    rows.sort()
    flagged = [r for r in rows if r[0] < auto.DARK_MEAN_BELOW and r[1] < auto.DARK_HIGH_BELOW]
    print(f"{len(rows)} clean photos; thresholds mean < {auto.DARK_MEAN_BELOW}, "
          f"95th percentile < {auto.DARK_HIGH_BELOW}; flagged: {len(flagged)}")
    print("\n| set | photo | mean luma | 95th percentile |\n|---|---|---|---|")
    for mean, high, name, photo in rows[: args.darkest]:
        print(f"| {name} | {photo} | {mean:.3f} | {high:.3f} |")
    if args.photos is not None:
        print("\n| real photo | mean luma | 95th percentile | brightened |\n|---|---|---|---|")
        for path in list_images(args.photos):
            mean, high = auto.exposure(read_image(path).pixels)
            dark = mean < auto.DARK_MEAN_BELOW and high < auto.DARK_HIGH_BELOW
            print(f"| {path.name} | {mean:.3f} | {high:.3f} | {'yes' if dark else 'no'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
