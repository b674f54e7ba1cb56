"""restora's NIQE on the Set5 and Set14 HR images next to an independent reference.

The reference values (benchmarks/niqe_reference_values.json) were produced once by
basicsr 1.4.2 from PyPI (``basicsr.metrics.niqe.calculate_niqe``, crop_border=0, Y channel,
images read with ``cv2.imread(path, cv2.IMREAD_UNCHANGED)`` as BasicSR's
scripts/metrics/calculate_niqe.py does) in a separate virtual environment; the JSON says
which versions. Images: ../shared/datasets/{set5,set14}/*.png (read with Pillow, RGB).

Prints a markdown table (name | restora | reference | abs diff). It also prints the
float64-MSCN variant (``niqe_features(dtype=np.float64)``), which shows how much the float32
precision that BasicSR uses matters. The last lines give the max abs diff and the time.

    .venv/bin/python benchmarks/niqe_reference.py [reference.json]
"""

from __future__ import annotations

import json
import sys
import os
import time
from pathlib import Path

import numpy as np

from restora.metrics import niqe

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "datasets"
# The pristine model is not bundled: use ../shared's copy unless the caller set one.
os.environ.setdefault("RESTORA_NIQE_PARAMS", str(SHARED / "iqa_models" / "niqe_pris_params.npz"))


def _niqe_float64(image: np.ndarray) -> float:
    """The same score with the MSCN step in float64 (for the precision column)."""
    from restora.color import rgb_to_ycbcr
    from restora.metrics.niqe import BLOCK, load_pristine_model, niqe_features

    x = image.astype(np.float64) / 255.0
    luma = np.round((rgb_to_ycbcr(x, y_only=True) if x.ndim == 3 else x) * 255.0)
    nh, nw = luma.shape[0] // BLOCK, luma.shape[1] // BLOCK
    feats = niqe_features(luma[: nh * BLOCK, : nw * BLOCK], dtype=np.float64)
    mu_p, cov_p, _ = load_pristine_model()
    mu_d = np.nanmean(feats, axis=0)
    cov_d = np.cov(feats[~np.isnan(feats).any(axis=1)], rowvar=False)
    d = mu_p - mu_d
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov_d) / 2) @ d))


def main(argv: list[str]) -> int:
    from PIL import Image

    ref_path = Path(argv[1]) if len(argv) > 1 else HERE / "niqe_reference_values.json"
    ref = json.loads(ref_path.read_text())
    values = ref["values"]
    if not SHARED.is_dir():
        print(f"datasets not found at {SHARED}", file=sys.stderr)
        return 1
    print(f"reference: {ref.get('implementation', '?')} ({ref_path.name})\n")
    print("| image | restora | reference | abs diff | float64 MSCN | abs diff (f64) |")
    print("|---|---:|---:|---:|---:|---:|")
    diffs, diffs64, t_total = [], [], 0.0
    for ds in ("set5", "set14"):
        for p in sorted((SHARED / ds).glob("*.png")):
            key = f"{ds}/{p.stem}"
            img = np.asarray(Image.open(p))
            t0 = time.perf_counter()
            v = niqe(img)
            t_total += time.perf_counter() - t0
            v64 = _niqe_float64(img)
            r = values[key]
            diffs.append(abs(v - r))
            diffs64.append(abs(v64 - r))
            print(
                f"| {key} | {v:.4f} | {r:.4f} | {diffs[-1]:.2e} | {v64:.4f} | {diffs64[-1]:.2e} |"
            )
    print(
        f"\nmax abs diff: {max(diffs):.2e} over {len(diffs)} images "
        f"(float64 MSCN: {max(diffs64):.2e})"
    )
    print(f"restora niqe time: {t_total:.2f} s for {len(diffs)} images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
