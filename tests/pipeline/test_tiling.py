"""Tests for restora.pipeline.tiling: tiled == untiled, seams, padding, scale, memory, errors."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from restora.errors import InvalidParameterError, ShapeError
from restora.pipeline import (
    crop_to,
    pad_to_multiple,
    run_tiled,
    stream_tiled,
    tile_count,
    tile_grid,
)

cv2 = pytest.importorskip("cv2")


def synthetic(height: int, width: int, seed: int = 0) -> np.ndarray:
    """HWC float32 RGB in [0, 1]: smooth gradients + oriented texture + Gaussian noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    yy = np.arange(height, dtype=np.float32)[:, None]
    xx = np.arange(width, dtype=np.float32)[None, :]
    texture = 0.15 * np.sin(0.31 * xx + 0.17 * yy) * np.cos(0.05 * yy)
    image = np.empty((height, width, 3), dtype=np.float32)
    for c, base in enumerate((0.6 * x + 0.2 * y, 0.5 * (1 - x) + 0.3 * y, 0.4 + 0.3 * x * y)):
        noise = rng.standard_normal((height, width), np.float32) * 0.05
        channel = base + texture * (c + 1) / 3 + noise
        image[..., c] = np.clip(channel, 0.0, 1.0)
    return image


def gauss5(t: np.ndarray) -> np.ndarray:
    """5x5 Gaussian blur (sigma 1) with reflect-101 border: halo 2 pixels."""
    return cv2.GaussianBlur(t, (5, 5), 1.0, borderType=cv2.BORDER_REFLECT_101)


def bicubic(factor: int):
    def up(t: np.ndarray) -> np.ndarray:
        return cv2.resize(t, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)

    return up


def max_abs_diff(a: np.ndarray, b: np.ndarray, rows: int = 256) -> float:
    """max |a - b| computed in row blocks (no full-size temporary for 8000x6000 images)."""
    assert a.shape == b.shape
    blocks = range(0, len(a), rows)
    return max(float(np.abs(a[i : i + rows] - b[i : i + rows]).max()) for i in blocks)


@pytest.fixture(scope="module")
def big() -> np.ndarray:
    return synthetic(3000, 4000)


# --- tiled == untiled -------------------------------------------------------------------------


def test_big_image_blur_and_x2_upscale_match_untiled(big: np.ndarray) -> None:
    before = big.copy()
    blurred = run_tiled(gauss5, big)  # default tile 512, overlap 32
    assert blurred.shape == big.shape
    assert max_abs_diff(blurred, gauss5(big)) < 1 / 255
    del blurred
    up = bicubic(2)
    tiled = run_tiled(up, big, scale=2)
    assert tiled.shape == (6000, 8000, 3)
    assert max_abs_diff(tiled, up(big)) < 1 / 255
    np.testing.assert_array_equal(big, before)  # input never mutated


def test_translation_invariant_operator_has_no_seams() -> None:
    # A convolution with halo 2 <= overlap // 4 gives the untiled result to float rounding,
    # everywhere (borders are image borders for both, so they match too).
    image = synthetic(700, 900, seed=1)
    tiled = run_tiled(gauss5, image, tile=128, overlap=16)
    diff = np.abs(tiled - gauss5(image))
    assert diff.max() < 1e-6
    # seam rows/columns (tile edges at 112, 224, ...) are no worse than the rest
    assert diff[108:118].max() < 1e-6


def test_exact_when_halo_within_a_quarter_of_overlap() -> None:
    # 41x41 box blur: every output pixel depends on inputs up to 20 pixels away.
    image = synthetic(300, 400, seed=2)

    def box(t: np.ndarray) -> np.ndarray:
        return cv2.blur(t, (41, 41), borderType=cv2.BORDER_REFLECT_101)

    ref = box(image)
    err_small = np.abs(run_tiled(box, image, tile=96, overlap=32) - ref).max()
    err_enough = np.abs(run_tiled(box, image, tile=192, overlap=80) - ref).max()
    assert err_enough < 1e-6  # halo 20 == 80 // 4
    assert err_small > 1e-3  # halo 20 > 32 // 4: blended, not exact


@pytest.mark.parametrize(
    ("height", "width", "tile", "overlap", "scale"),
    [(1, 1000, 64, 0, 1), (257, 1000, 64, 31, 1), (100, 1000, 64, 7, 3), (333, 77, 50, 20, 2)],
)
def test_weights_cover_every_pixel_and_sum_to_one(height, width, tile, overlap, scale) -> None:
    # nearest-neighbour upscale (or identity) is pointwise: tiled must reproduce it exactly,
    # which fails if any pixel is uncovered or the blend weights do not sum to one.
    image = np.random.default_rng(3).random((height, width, 2), dtype=np.float32)

    def nearest(t: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(t, scale, axis=0), scale, axis=1)

    out = run_tiled(nearest, image, tile=tile, overlap=overlap, scale=scale)
    np.testing.assert_allclose(out, nearest(image), atol=3e-7, rtol=0)


def test_scale4_upsampler_matches_untiled() -> None:
    image = synthetic(300, 260, seed=4)
    up = bicubic(4)
    out = run_tiled(up, image, tile=96, overlap=24, scale=4)
    assert out.shape == (1200, 1040, 3)
    assert np.abs(out - up(image)).max() < 1e-5


def test_output_channels_read_from_first_tile() -> None:
    image = synthetic(200, 300, seed=5)

    def luma(t: np.ndarray) -> np.ndarray:
        return t @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)

    out = run_tiled(luma, image, tile=64, overlap=8)
    assert out.shape == (200, 300, 1)
    np.testing.assert_allclose(out, luma(image), atol=1e-6, rtol=0)


# --- padding to a multiple ----------------------------------------------------------------------


def _needs_multiple_of_8(t: np.ndarray) -> np.ndarray:
    if t.shape[0] % 8 or t.shape[1] % 8:
        raise ValueError(f"size {t.shape[:2]} not divisible by 8")
    return gauss5(t)


@pytest.mark.parametrize(
    ("height", "width", "tile"), [(301, 203, 100), (37, 50, 512), (90, 61, None)]
)
def test_multiple_of_8(height: int, width: int, tile: int | None) -> None:
    image = synthetic(height, width, seed=6)
    out = run_tiled(_needs_multiple_of_8, image, tile=tile, overlap=12, multiple=8)
    assert out.shape == image.shape
    # tile 100 is rounded down to 96 (a multiple of 8): no tile padding inside the image,
    # so the result equals the untiled blur of the reflect-padded image, cropped back.
    padded, (h, w) = pad_to_multiple(image, 8)
    ref = crop_to(gauss5(padded), h, w)
    assert np.abs(out - ref).max() < 1e-6


def _block_means(t: np.ndarray) -> np.ndarray:
    """Each pixel replaced by the mean of its 8x8 block: the output depends on where the
    8-pixel grid falls, as a network that downsamples by 8 does (reach 7 pixels). Takes
    HWC or a batch (NHWC)."""
    if t.ndim == 4:
        return np.stack([_block_means(x) for x in t])
    h, w, c = t.shape
    means = t.reshape(h // 8, 8, w // 8, 8, c).mean(axis=(1, 3))
    return np.repeat(np.repeat(means, 8, axis=0), 8, axis=1)


@pytest.mark.parametrize(("height", "width", "tile"),
                         [(321, 481, 128), (481, 321, (136, 200)), (250, 203, 96)])
def test_tiles_start_on_the_grid_of_the_untiled_image(height, width, tile) -> None:
    """Every tile, the last one shifted inward included, starts on a multiple of
    ``multiple``, so a grid-phase-dependent operator gives the untiled result; a last tile
    shifted off the grid (the engine before) gave 8x8 means of other blocks there."""
    rows, cols, th, tw = tile_grid(height, width, tile=tile, overlap=32, multiple=8)
    assert all(r % 8 == 0 for r in rows) and all(c % 8 == 0 for c in cols)
    assert rows[-1] + th == height + (-height % 8) and cols[-1] + tw == width + (-width % 8)
    image = synthetic(height, width, seed=9)
    whole = run_tiled(_block_means, image, tile=None, multiple=8)
    tiled = run_tiled(_block_means, image, tile=tile, overlap=32, multiple=8)
    assert np.abs(tiled - whole).max() < 1e-6
    rows_out = np.zeros_like(whole)

    def sink(y0: int, band: np.ndarray) -> None:
        rows_out[y0 : y0 + len(band)] = band

    stream_tiled(_block_means, image, sink=sink, tile=tile, overlap=32, multiple=8, batch=3)
    assert np.abs(rows_out - whole).max() < 1e-6


@pytest.mark.parametrize("multiple", [1, 8, 16])
def test_grid_covers_with_the_overlap_on_the_grid(multiple) -> None:
    """For many sizes: neighbours share at least ``overlap`` pixels, the grid covers the
    image, the last tile ends less than ``multiple`` past the edge, and the starts are on
    the grid whenever a step can be (``side - overlap >= multiple``)."""
    for length in (17, 64, 100, 321, 481, 1000):
        for side in (16, 40, 96, 136, 256):
            for overlap in (0, 3, 7, 12, 32):
                if side - side % multiple <= 2 * overlap or side < multiple:
                    continue
                starts, _, size, _ = tile_grid(length, 1, tile=side, overlap=overlap,
                                               multiple=multiple)
                case = (length, side, overlap, multiple, starts)
                assert starts[0] == 0 and length <= starts[-1] + size < length + multiple, case
                gaps = np.diff(starts)
                assert np.all(gaps > 0) and np.all(gaps <= size - overlap), case
                if size - overlap >= multiple:
                    assert all(s % multiple == 0 for s in starts), case


def test_pad_to_multiple_values_and_roundtrip() -> None:
    image = np.arange(15, dtype=np.float32).reshape(3, 5)
    padded, size = pad_to_multiple(image, 4)
    assert size == (3, 5) and padded.shape == (4, 8)
    np.testing.assert_array_equal(padded[3, :5], image[1])  # reflect: edge pixel not repeated
    np.testing.assert_array_equal(padded[0, 5:], [3, 2, 1])
    np.testing.assert_array_equal(crop_to(padded, *size), image)
    same, _ = pad_to_multiple(padded, 4)
    assert same is padded  # nothing to pad: no copy
    edge, _ = pad_to_multiple(image[..., None], 4, mode="edge")
    assert edge.shape == (4, 8, 1) and edge[3, 7, 0] == 14


def test_pad_and_crop_errors() -> None:
    with pytest.raises(InvalidParameterError, match="multiple must be an integer >= 1; got 0"):
        pad_to_multiple(np.zeros((4, 4)), 0)
    with pytest.raises(InvalidParameterError, match="pad_mode must be one of .*got 'wrap'"):
        pad_to_multiple(np.zeros((4, 4)), 2, mode="wrap")
    with pytest.raises(ShapeError, match=r"at least 5x4; got shape \(4, 4\)"):
        crop_to(np.zeros((4, 4)), 5, 4)


# --- streaming into out, progress, batching --------------------------------------------------


def test_tile_grid_and_progress_counts() -> None:
    rows, cols, th, tw = tile_grid(700, 1000, tile=256, overlap=32)
    assert (th, tw) == (256, 256)
    assert rows == [0, 224, 444]  # last row shifted inward: 444 + 256 == 700
    assert cols == [0, 224, 448, 672, 744]
    calls: list[tuple[int, int]] = []
    zeros = np.zeros((700, 1000, 1), np.float32)
    run_tiled(lambda t: t, zeros, tile=256, progress=lambda d, n: calls.append((d, n)))
    assert calls == [(k, 15) for k in range(1, 16)]
    assert tile_count(700, 1000, tile=256, overlap=32) == 15
    assert tile_grid(100, 80, tile=None) == ([0], [0], 100, 80)


def test_rectangular_tiles_give_the_untiled_result() -> None:
    """(height, width) tiles: each axis steps by its own side; an operator whose halo is
    within overlap // 4 gives exactly the untiled result, in run_tiled and stream_tiled."""
    rows, cols, th, tw = tile_grid(700, 1000, tile=(300, 520), overlap=40, multiple=8)
    assert (th, tw) == (296, 520)  # rounded down to the multiple
    # tiles start on the 8-pixel grid; the last row reaches 408 + 296 = 704, 4 rows padded
    assert rows == [0, 256, 408] and cols == [0, 480]
    assert tile_count(700, 1000, tile=(300, 520), overlap=40, multiple=8) == 6
    image = synthetic(700, 1000, seed=3)
    whole = gauss5(image)
    tiled = run_tiled(gauss5, image, tile=(300, 520), overlap=40, multiple=8)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    rows_out = np.zeros_like(whole)

    def sink(y0: int, band: np.ndarray) -> None:
        rows_out[y0 : y0 + len(band)] = band

    stream_tiled(gauss5, image, sink=sink, tile=(300, 520), overlap=40, multiple=8)
    np.testing.assert_allclose(rows_out, whole, atol=1e-5)
    small = image[:300, :420]
    up = run_tiled(bicubic(2), small, tile=(160, 240), overlap=40, scale=2)
    assert max_abs_diff(up, bicubic(2)(small)) < 1e-5


@pytest.mark.parametrize("tile", [(300,), (300, 520, 2), (300, 80), (0, 300), (300, 2.5)])
def test_bad_rectangular_tiles_are_refused(tile) -> None:
    with pytest.raises(InvalidParameterError, match="tile"):
        run_tiled(lambda t: t, np.zeros((700, 1000, 1), np.float32), tile=tile, overlap=40)


def test_streams_into_memmap_with_stale_contents(tmp_path) -> None:
    image = synthetic(333, 250, seed=7)
    path = tmp_path / "out.f32"
    out = np.memmap(path, dtype=np.float32, mode="w+", shape=(666, 500, 3))
    out[:] = 7.0  # stale data must not leak into the result
    result = run_tiled(bicubic(2), image, tile=64, overlap=16, scale=2, out=out)
    assert result is out
    out.flush()
    back = np.fromfile(path, dtype=np.float32).reshape(666, 500, 3)
    assert np.abs(back - bicubic(2)(image)).max() < 1e-5


def test_fn_gets_private_copies_and_input_is_untouched() -> None:
    image = synthetic(150, 170, seed=8)
    before = image.copy()
    seen = []

    def halve_in_place(t: np.ndarray) -> np.ndarray:
        seen.append((t.dtype, t.flags.c_contiguous, np.shares_memory(t, image)))
        t *= 0.5
        return t

    out = run_tiled(halve_in_place, image, tile=64, overlap=16)
    np.testing.assert_array_equal(image, before)
    np.testing.assert_allclose(out, 0.5 * image, atol=1e-7, rtol=0)
    assert set(seen) == {(np.dtype(np.float32), True, False)}


def test_batch_gives_same_result_with_fewer_calls() -> None:
    image = synthetic(300, 200, seed=9)
    shapes = []

    def batched(t: np.ndarray) -> np.ndarray:
        shapes.append(t.shape)
        return np.stack([gauss5(x) for x in t])

    one = run_tiled(gauss5, image, tile=96, overlap=16)
    many = run_tiled(batched, image, tile=96, overlap=16, batch=4)
    n = tile_count(300, 200, tile=96, overlap=16)
    assert n == 12
    assert shapes == [(4, 96, 96, 3)] * 3
    np.testing.assert_array_equal(one, many)


# --- memory -------------------------------------------------------------------------------


def _extra_peak(height: int, width: int, tile: int) -> int:
    image = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    out = np.empty_like(image)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run_tiled(lambda t: t * 0.5, image, tile=tile, overlap=32, out=out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_extra_memory_follows_tile_not_image() -> None:
    small = _extra_peak(1000, 1000, 256)
    large = _extra_peak(3000, 4000, 256)
    image_bytes = 3000 * 4000 * 3 * 4  # 144 MB
    assert large <= 1.5 * small
    assert large < image_bytes / 20
    # a 256x256x3 float32 tile is 786 kB; a few tile-sized buffers, not megapixels
    assert large < 8 * 256 * 256 * 3 * 4


# --- errors --------------------------------------------------------------------------------


def _ident(t: np.ndarray) -> np.ndarray:
    return t


IMG = np.zeros((40, 50, 3), np.float32)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"tile": 64, "overlap": 32},
            r"tile=64 must be larger than 2\*overlap=64 \(overlap 32 on each side\); "
            r"use tile > 64 or a smaller overlap",
        ),
        (
            {"tile": 70, "overlap": 32, "multiple": 8},
            r"tile=70 \(rounded down to a multiple of 8: 64\) must be larger than 2\*overlap=64",
        ),
        ({"tile": 4, "multiple": 8, "overlap": 0}, "tile=4 is smaller than multiple=8"),
        ({"overlap": -1}, "overlap must be an integer >= 0; got -1"),
        ({"tile": 256.0}, r"tile must be an integer >= 1; got 256.0 \(float\)"),
        ({"tile": 0}, "tile must be an integer >= 1; got 0"),
        ({"scale": 0}, "scale must be an integer >= 1; got 0"),
        ({"batch": 0}, "batch must be an integer >= 1; got 0"),
        ({"pad_mode": "wrap"}, "pad_mode must be one of reflect, symmetric, edge, constant"),
        ({"progress": 3}, "progress must be callable or None"),
    ],
)
def test_bad_options(kwargs, message) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        run_tiled(_ident, IMG, **kwargs)


def test_bad_image() -> None:
    gray_hint = r"HWC .* got \(40, 50\)\. For a gray HW image pass image\[\.\.\., None\]"
    with pytest.raises(ShapeError, match=gray_hint):
        run_tiled(_ident, IMG[..., 0])
    with pytest.raises(InvalidParameterError, match="floating point .* got dtype int32"):
        run_tiled(_ident, IMG.astype(np.int32))
    with pytest.raises(ShapeError, match=r"non-empty HWC; got shape \(0, 50, 3\)"):
        run_tiled(_ident, IMG[:0])


def test_bad_fn_result() -> None:
    want = (
        r"given a HWC tile of 40x50 pixels and must return HWC of shape \(80, 100, C_out\) "
        r"for scale=2; got shape \(40, 50, 3\)\. Check that scale= matches"
    )
    with pytest.raises(ShapeError, match=want):
        run_tiled(_ident, IMG, scale=2)
    with pytest.raises(ShapeError, match="fn must return a numpy array; got list"):
        run_tiled(lambda t: [t], IMG)
    want_batch = r"must return NHWC of shape \(2, 24, 24, C_out\).*got shape \(24, 24, 3\)"
    with pytest.raises(ShapeError, match=want_batch):
        run_tiled(lambda t: t[0], IMG, tile=24, overlap=4, batch=2)
    calls = iter(range(100))

    def flaky(t: np.ndarray) -> np.ndarray:
        return t if next(calls) == 0 else t[..., :1]

    with pytest.raises(ShapeError, match="returned 1 channels for one tile and 3 for an earlier"):
        run_tiled(flaky, IMG, tile=24, overlap=4)


def test_bad_out() -> None:
    with pytest.raises(ShapeError, match=r"out must have shape .* = \(80, 100, 3\); got \(40, 50"):
        run_tiled(bicubic(2), IMG, scale=2, out=np.zeros_like(IMG))
    with pytest.raises(InvalidParameterError, match="out must be float32 .*got float64"):
        run_tiled(_ident, IMG, out=np.zeros(IMG.shape))
    with pytest.raises(InvalidParameterError, match="must not share memory with image"):
        image = IMG.copy()
        run_tiled(_ident, image, out=image)
