"""stream_tiled: the rows it hands out equal run_tiled's result; band memory; integer input."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from restora.errors import InvalidParameterError
from restora.io.bridge import to_float32
from restora.pipeline import run_tiled, stream_tiled
from tests.pipeline.test_tiling import bicubic, gauss5, synthetic


def _per_tile(fn):
    """``fn`` on one HWC tile or on each tile of an NHWC stack (batch > 1)."""
    return lambda t: np.stack([fn(x) for x in t]) if t.ndim == 4 else fn(t)


def _collect(fn, image, **kwargs):
    rows: list[tuple[int, np.ndarray]] = []
    shape = stream_tiled(fn, image, sink=lambda y0, r: rows.append((y0, r.copy())), **kwargs)
    return shape, rows


@pytest.mark.parametrize(("fn", "scale", "batch", "tile", "overlap"), [
    (gauss5, 1, 1, 64, 16),
    (gauss5, 1, 3, 64, 16),  # batches span two tile rows
    (bicubic(2), 2, 1, 48, 8),
    (gauss5, 1, 1, None, 16),  # the whole image: one tile
])
def test_rows_arrive_in_order_once_and_equal_run_tiled(fn, scale, batch, tile, overlap):
    image = synthetic(203, 157, seed=4)
    fn = _per_tile(fn)
    expected = run_tiled(fn, image, tile=tile, overlap=overlap, scale=scale, batch=batch)
    shape, rows = _collect(fn, image, tile=tile, overlap=overlap, scale=scale, batch=batch)
    assert shape == expected.shape
    starts = [y0 for y0, _ in rows]
    assert starts[0] == 0 and starts == sorted(starts)
    got = np.concatenate([r for _, r in rows])
    assert [y0 for y0, r in rows] == list(np.cumsum([0] + [len(r) for _, r in rows])[:-1])
    np.testing.assert_array_equal(got, expected)


def test_band_memory_does_not_grow_with_the_image_height():
    """Extra memory of a tall image: one tile row (band), not the output image."""
    image = synthetic(2400, 300, seed=5)  # output would be 8.2 MiB
    tracemalloc.start()
    stream_tiled(lambda t: t, image, sink=lambda y0, r: None, tile=128, overlap=16)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    band = 128 * 300 * 3 * 4
    assert peak < 4 * band  # band + a few tiles; the whole output is 16 bands
    assert peak < image.nbytes / 4


def test_eight_and_sixteen_bit_samples_are_converted_tile_by_tile():
    image = synthetic(90, 110, seed=6)
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        samples = np.rint(image * top).astype(dtype)
        seen = []

        def fn(t, seen=seen):
            seen.append(t.dtype)
            return t

        from_samples = run_tiled(fn, samples, tile=48, overlap=8)
        np.testing.assert_array_equal(from_samples, run_tiled(fn, to_float32(samples), tile=48, overlap=8))
        assert set(seen) == {np.dtype(np.float32)}
        assert np.abs(from_samples - image).max() <= 0.5 / top + 1e-7


def test_bad_sink():
    with pytest.raises(InvalidParameterError, match="sink must be callable"):
        stream_tiled(lambda t: t, synthetic(20, 20), sink=None)  # type: ignore[arg-type]
