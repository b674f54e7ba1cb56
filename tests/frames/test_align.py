"""Alignment recovers known integer and sub-pixel motion (brackets and bursts)."""

from __future__ import annotations

import numpy as np
import pytest
from frames_helpers import clean_image, linear_scene

from restora.errors import InvalidParameterError
from restora.frames.align import (
    Alignment,
    align,
    ecc_matrix,
    match_histogram,
    mtb_shift,
    tile_flow,
    warp,
)
from restora.frames.synthetic import brackets, burst


@pytest.mark.parametrize("shift", [(5, -3), (-7, 2), (0, 4)])
def test_mtb_recovers_integer_shifts_across_exposures(shift):
    rad = linear_scene(stops=4)
    ref, frame = brackets(rad, [1.0, 4.0], shifts=[(0, 0), shift])  # two stops apart
    assert mtb_shift(ref, frame) == shift
    assert mtb_shift(frame, ref) == (-shift[0], -shift[1])


@pytest.mark.parametrize("shift", [(2.5, 1.25), (-3.3, 0.6)])
def test_ecc_recovers_sub_pixel_shifts(shift):
    rad = linear_scene(stops=4)
    same = brackets(rad, [1.0, 1.0], shifts=[(0, 0), shift], bits=16)
    apart = brackets(rad, [1.0, 4.0], shifts=[(0, 0), shift], bits=16)
    for frames, motion in ((same, "euclidean"), (same, "translation"), (apart, "translation")):
        d = Alignment(matrix=ecc_matrix(*frames, motion=motion)).displacement(*rad.shape[:2])
        err = np.hypot(d[..., 0] - shift[0], d[..., 1] - shift[1])
        assert err.mean() < 0.15, (shift, motion, err.mean())


def test_ecc_and_tiles_recover_shift_and_rotation_of_a_burst():
    image = clean_image(size=224)
    _, frames, truth = burst(image, 3, size=(160, 160), max_shift=5, max_rotation=1.0, sigma=5,
                             rng=np.random.default_rng(3))
    texture = np.hypot(*np.gradient(frames[0].mean(axis=2))) > 0.02
    for k in (1, 2):
        true = truth[k].displacement(160, 160)
        ecc = Alignment(matrix=ecc_matrix(frames[0], frames[k])).displacement(160, 160)
        tiles = tile_flow(frames[0], frames[k])
        assert np.abs(ecc - true).max() < 0.1
        err = np.hypot(*(tiles - true).transpose(2, 0, 1))[texture]
        assert np.median(err) < 0.3, np.median(err)


def test_warp_puts_the_frame_on_the_reference_grid():
    image = clean_image(size=224)
    _, frames, truth = burst(image, 2, size=(160, 160), max_shift=5, max_rotation=1.0,
                             rng=np.random.default_rng(4))
    aligned, valid = warp(frames[1], truth[1])
    inner = valid.copy()
    inner[:8], inner[-8:], inner[:, :8], inner[:, -8:] = False, False, False, False
    assert np.abs(aligned - frames[0])[inner].mean() < 0.01  # interpolation error only
    assert np.abs(frames[1] - frames[0])[inner].mean() > 0.03  # and not because nothing moved
    same, all_valid = warp(frames[0], Alignment())
    assert np.array_equal(same, frames[0]) and all_valid.all()


def test_match_histogram_undoes_a_monotone_tone_change():
    image = clean_image()
    darker = image**2.0
    assert np.abs(match_histogram(darker, image) - image).max() < 0.02
    assert np.array_equal(darker, image**2.0)  # inputs untouched


def test_align_returns_identity_for_the_reference_and_refuses_unknown_methods():
    image = clean_image(size=96)
    out = align([image, image], reference=1, method="mtb")
    assert out[1] == Alignment() and out[0].shift == (0.0, 0.0)
    with pytest.raises(InvalidParameterError, match="align must be one of off, mtb"):
        align([image, image], method="sift")
