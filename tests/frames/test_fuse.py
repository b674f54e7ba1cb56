"""Exposure fusion and HDR against scenes whose radiance is known."""

from __future__ import annotations

import numpy as np
import pytest
from frames_helpers import linear_scene, stops_error, well_exposed

from restora.errors import InvalidParameterError
from restora.frames.fuse import (
    calibrate_response,
    check_times,
    consistency_weights,
    exposure_time,
    fuse_exposures,
    merge_hdr,
    mertens,
    middle_exposure,
    tonemap,
)
from restora.frames.synthetic import brackets, camera_response

TIMES = [1 / 16, 1 / 4, 1.0, 4.0, 16.0]  # two stops apart


@pytest.mark.parametrize(("method", "limit"), [("debevec", 0.12), ("robertson", 0.15)])
def test_hdr_merge_recovers_relative_radiance(method, limit):
    """8 stops of scene, 5 brackets two stops apart through a non-gamma response, clipped and
    quantised to 8 bits: the merged radiance is right to ~0.1 stop (RMS, up to one scale)."""
    rad = linear_scene()
    frames = brackets(rad, TIMES)
    merged = merge_hdr(frames, TIMES, method=method)
    mask = well_exposed(frames)
    assert mask.mean() > 0.85
    err = stops_error(merged, rad, mask)
    assert err < limit, err
    # any single exposure is far off: the merge is what recovers the range
    single = stops_error(np.maximum(frames[2], 1e-3), rad, mask)
    assert single > 4 * err


def test_recovered_response_is_the_camera_response():
    rad = linear_scene()
    frames = brackets(rad, TIMES)
    response = calibrate_response(frames, TIMES)  # relative exposure per 8-bit value
    values = np.arange(40, 220)
    true_exposure = np.interp(values / 255.0, camera_response(np.linspace(0, 1, 4096)),
                              np.linspace(0, 1, 4096))
    ratio = np.log2(response[values, 0]) - np.log2(true_exposure)
    assert np.std(ratio) < 0.1  # equal up to one scale factor, within 0.1 stop


def test_mertens_of_identical_frames_is_that_frame():
    frame = brackets(linear_scene(), [1.0])[0]
    assert np.abs(mertens([frame, frame, frame]) - frame).max() < 1e-4
    gray = frame[..., :1]
    assert np.abs(mertens([gray, gray]) - gray).max() < 1e-4


def test_mertens_keeps_detail_from_every_exposure():
    rad = linear_scene()
    frames = brackets(rad, TIMES)
    fused = mertens(frames)
    assert fused.shape == frames[0].shape and 0.0 <= fused.min() and fused.max() <= 1.0
    clipped = [((f < 0.02) | (f > 0.98)).all(axis=2).mean() for f in frames]
    assert ((fused < 0.02) | (fused > 0.98)).all(axis=2).mean() < min(clipped)


def test_a_moving_object_is_taken_from_the_reference_frame_only():
    rad = linear_scene(stops=4)
    frames = brackets(rad, [0.25, 1.0, 4.0])
    box = (slice(60, 100), slice(40, 80))
    moved = [f.copy() for f in frames]
    yy, xx = np.mgrid[0:40, 0:40]
    checks = np.where(((yy // 4 + xx // 4) % 2 == 0)[..., None], [0.8, 0.3, 0.2], [0.2, 0.6, 0.8])
    moved[0][box] = checks  # a textured object crosses the scene in the short exposure only
    truth = mertens(frames)
    ghosted = fuse_exposures(moved, merge="mertens", align_method="off", remove_ghosts=False)
    clean = fuse_exposures(moved, merge="mertens", align_method="off")
    assert clean.reference == 1
    ghost = np.abs(ghosted.image[box] - truth[box]).mean()
    left = np.abs(clean.image[box] - truth[box]).mean()
    assert ghost > 0.1 and left < 0.02, (ghost, left)
    weights = consistency_weights(moved, reference=1, sigma=1.0)
    assert weights[0][box].mean() < 0.05 and weights[2][box].mean() > 0.95
    outside = np.ones(weights[0].shape, bool)
    outside[50:110, 30:90] = False
    assert weights[0][outside].mean() > 0.97  # the static scene is kept


def test_hdr_fusion_with_ghost_keeps_radiance_outside_and_reference_inside():
    rad = linear_scene(stops=4)
    frames = brackets(rad, [0.25, 1.0, 4.0])
    box = (slice(60, 100), slice(40, 80))
    frames[2][box] = 0.05  # a dark object in the long exposure only

    def offset(result, where):  # log2 radiance error, up to the merge's scale
        return float(np.median(np.log2(result.radiance[where]) - np.log2(rad[where])))

    outside = (slice(120, None), slice(120, None))
    clean = fuse_exposures(frames, times=[0.25, 1.0, 4.0], align_method="off")
    ghosted = fuse_exposures(frames, times=[0.25, 1.0, 4.0], align_method="off",
                             remove_ghosts=False)
    assert clean.merge == "debevec" and clean.reference == 1
    assert abs(offset(clean, box) - offset(clean, outside)) < 0.3
    assert abs(offset(ghosted, box) - offset(ghosted, outside)) > 0.5  # the ghost it removes


def test_tonemap_output_range_and_order():
    rad = linear_scene()
    for method in ("drago", "reinhard", "mantiuk", "gamma"):
        out = tonemap(rad, method=method)
        assert out.shape == rad.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        luma = out.mean(axis=2)
        assert luma[:, -20:].mean() > luma[:, :20].mean()  # brighter scene, brighter output
    assert tonemap(rad[..., :1]).shape == rad[..., :1].shape
    with pytest.raises(InvalidParameterError, match="tonemap must be one of"):
        tonemap(rad, method="filmic")


def test_exposure_time_from_exif_and_the_middle_exposure():
    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x829A] = 1 / 125
    assert exposure_time(b"Exif\x00\x00" + exif.tobytes()) == pytest.approx(1 / 125)
    assert exposure_time(None) is None and exposure_time(b"garbage") is None
    frames = brackets(linear_scene(size=64), [4.0, 0.25, 1.0])
    assert middle_exposure(frames, [4.0, 0.25, 1.0]) == 2
    assert middle_exposure(frames) == 2


def test_times_are_checked():
    assert check_times([1, 2], 2).dtype == np.float32
    with pytest.raises(InvalidParameterError, match="2 exposure time"):
        check_times([1, 2], 3)
    with pytest.raises(InvalidParameterError, match="positive"):
        check_times([1, 0], 2)
    frames = brackets(linear_scene(size=64), [1.0, 4.0])
    with pytest.raises(InvalidParameterError, match="needs the exposure time"):
        fuse_exposures(frames, merge="debevec")
