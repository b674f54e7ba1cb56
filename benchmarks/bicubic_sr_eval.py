"""Bicubic SR Y-PSNR on Set5/Set14/B100 x2/x3/x4 under the 'paper' and 'matlab' protocols.

Same code path as ``restora eval --method bicubic --task upscale --scale S --dataset D``:
MATLAB-bicubic LR from the uint8 HR, bicubic back up, BT.601 Y, crop = scale.
Run: ``.venv/bin/python benchmarks/bicubic_sr_eval.py`` (prints a markdown table).
"""

from __future__ import annotations

from pathlib import Path

from restora.bench import evaluate

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def main() -> None:
    print("| set | scale | published | paper (Y float) | diff | matlab (Y rounded) | diff | SSIM (paper) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("set5", "set14", "b100"):
        for scale in (2, 3, 4):
            paper = evaluate("bicubic", DATA / name, task="upscale", scale=scale)
            matlab = evaluate("bicubic", DATA / name, task="upscale", scale=scale, protocol="matlab")
            pub = paper.published["bicubic"]
            print(f"| {name} | x{scale} | {pub:.2f} | {paper.mean_psnr:.3f} | "
                  f"{paper.mean_psnr - pub:+.3f} | {matlab.mean_psnr:.3f} | "
                  f"{matlab.mean_psnr - pub:+.3f} | {paper.mean_ssim:.4f} |")


if __name__ == "__main__":
    main()
