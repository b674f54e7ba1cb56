"""DRUNet's tiling reach: 16 pixels for one block per level (the shipped models), 32 for the
published depth; the shipped colour denoiser's tiles at that overlap leave no seam."""

from __future__ import annotations

import numpy as np

import restora
from restora.archs.registry import get_spec
from restora.models import load_model
from restora.pipeline import run_tiled
from restora.weights import find_card


def test_reach_follows_the_depth_and_the_unshuffle_factor():
    spec = get_spec("drunet")
    assert spec.reach({"num_blocks": 1}) == 16
    assert spec.reach({"num_blocks": 1, "unshuffle": 2}) == 32
    assert spec.reach({"num_blocks": 4}) == 32  # the published DRUNet
    assert spec.reach({}) == 32  # the class default is 4 blocks


def test_shipped_denoisers_tile_with_a_64_pixel_overlap():
    for name in ("denoise_color", "denoise_gray", "denoise_real", "deblock_gray"):
        assert 4 * load_model(find_card(name).path).halo == 64, name


def _column_gaps(overlap: int, noisy: np.ndarray, whole: np.ndarray, clean: np.ndarray,
                 options: dict) -> tuple[float, float]:
    """(largest per-column mean |tiled - whole| in grey levels, PSNR change in dB) of
    264-pixel tiles at ``overlap`` against the untiled result."""
    tiled = run_tiled(lambda x: restora.restore(x, **options), noisy, tile=264,
                      overlap=overlap, multiple=8)

    def psnr(a: np.ndarray) -> float:
        return float(10 * np.log10(1 / np.mean((np.round(a.clip(0, 1) * 255) / 255 - clean) ** 2)))

    gap = float((np.abs(tiled - whole).mean(axis=(0, 2)) * 255).max())
    return gap, psnr(tiled) - psnr(whole)


def test_shipped_overlap_leaves_no_seam(astronaut):
    """astronaut + AWGN sigma 25, 264-pixel tiles (three columns), the shipped colour model.
    Measured (bf16 on AMX / fp32): largest column gap 0.059 / 0.016 grey levels at overlap 64,
    0.23 / 0.18 at 32 and 2.3 at 0 (a seam; -0.13 dB in 128-pixel tiles); PSNR within 0.001
    dB of the untiled result at 8-128."""
    noisy = (astronaut + np.random.default_rng(0).normal(0, 25 / 255, astronaut.shape)).astype(np.float32)
    options = {"task": "denoise", "sigma": 25, "device": "cpu", "threads": 2, "tile": 0}
    whole = restora.restore(noisy, **options)
    overlap = 4 * load_model(find_card("denoise_color").path).halo
    gap, change = _column_gaps(overlap, noisy, whole, astronaut, options)
    assert gap < 0.1 and abs(change) < 0.01, (gap, change)
    seam_gap, _ = _column_gaps(0, noisy, whole, astronaut, options)
    assert seam_gap > 1.0, seam_gap  # the check can fail: no overlap leaves a seam


def test_blind_model_tiled_equals_untiled(astronaut):
    """The blind real-photo model infers the noise from its context and is the most
    sensitive to the 8-pixel grid: 136-pixel tiles of a 301x389 photo (not multiples of 8)
    give its untiled output. Measured in fp32 on the first 20 CBSD68 photos + AWGN sigma 15,
    256-pixel tiles: mean |tiled - untiled| 0.011 grey levels; 2.31 when the last tile was
    shifted off the grid (docs/benchmarks.md)."""
    crop = astronaut[:301, :389]
    noisy = (crop + np.random.default_rng(1).normal(0, 15 / 255, crop.shape)).astype(np.float32)
    options = {"model": "denoise_real", "precision": "fp32", "device": "cpu", "threads": 2}
    whole = restora.restore(noisy, tile=0, **options)
    tiled = restora.restore(noisy, tile=136, **options)
    gap = float(np.abs(tiled - whole).mean() * 255)
    assert gap < 0.05, gap
