"""stream_tiled(..., device=...): the tiling engine with the tiles on a torch device (a GPU).

On the CPU (torch tensors on "cpu") it must hand out exactly the rows of the numpy engine;
the same checks run on CUDA where a GPU is present (skipped otherwise).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F

from restora.errors import InvalidParameterError, ShapeError
from restora.io.bridge import from_tensor, to_device_chw, to_tensor
from restora.pipeline import tiling
from restora.pipeline.tiling import stream_tiled

CUDA = torch.cuda.is_available()


def stream_tiled_on_device(fn, image, **kwargs):
    """The device engine (``device`` given; fn on NCHW tensors)."""
    return stream_tiled(fn, image, **kwargs)


def blur_tensor(x: torch.Tensor, scale: int = 1) -> torch.Tensor:
    """A 5x5 box blur (reach 2), nearest-upscaled by ``scale``, plus a fourth channel: the
    first channel halved (so C_out differs from C_in)."""
    c = x.shape[1]
    kernel = torch.ones(c, 1, 5, 5, dtype=x.dtype, device=x.device) / 25
    y = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=c)
    if scale > 1:
        y = F.interpolate(y, scale_factor=scale, mode="nearest")
    return torch.cat([y, y[:, :1] * 0.5], 1)


def blur_array(tiles: np.ndarray, scale: int = 1) -> np.ndarray:
    """:func:`blur_tensor` on HWC / NHWC arrays (the numpy engine's tile function)."""
    out = from_tensor(blur_tensor(to_tensor(tiles), scale))
    return out if tiles.ndim == 4 else out[0]


def collect(engine, fn, image, **kwargs):
    rows: list[tuple[int, np.ndarray]] = []
    done: list[tuple[int, int]] = []
    shape = engine(fn, image, sink=lambda y0, r: rows.append((y0, np.array(r, copy=True))),
                   progress=lambda d, t: done.append((d, t)), **kwargs)
    return shape, rows, done


def image_of(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        return rng.random(shape, dtype=np.float32)
    return rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)


CASES = [
    # shape, tile, overlap, scale, multiple, batch, dtype
    ((301, 389, 3), 136, 16, 1, 8, 1, np.uint8),  # last row and column reach past the edge
    ((301, 389, 3), (96, 128), 16, 2, 8, 3, np.float32),  # rectangles, x2, batches of 3
    ((40, 500, 1), 128, 16, 1, 8, 2, np.uint16),  # one row of tiles, 16-bit
    ((77, 59, 3), 256, 8, 1, 16, 1, np.uint8),  # smaller than a tile: padded to 16
    ((150, 170, 3), None, 16, 1, 8, 1, np.uint8),  # the whole image in one call
]


@pytest.mark.parametrize(("shape", "tile", "overlap", "scale", "multiple", "batch", "dtype"), CASES)
def test_rows_equal_the_numpy_engine(shape, tile, overlap, scale, multiple, batch, dtype):
    image = image_of(dtype, shape, seed=len(shape) + shape[0])
    kwargs = {"tile": tile, "overlap": overlap, "scale": scale, "multiple": multiple,
              "batch": batch}
    want_shape, want, want_done = collect(stream_tiled, lambda t: blur_array(t, scale), image,
                                          **kwargs)
    shape_, got, done = collect(stream_tiled_on_device, lambda x: blur_tensor(x, scale), image,
                                device="cpu", **kwargs)
    assert shape_ == want_shape == (shape[0] * scale, shape[1] * scale, shape[2] + 1)
    assert [y0 for y0, _ in got] == [y0 for y0, _ in want]  # same bands, top to bottom
    assert done == want_done  # one progress call per tile, same totals
    full = np.concatenate([r for _, r in got])
    assert full.shape == want_shape
    np.testing.assert_allclose(full, np.concatenate([r for _, r in want]), rtol=0, atol=2e-7)


def test_each_row_of_tiles_is_uploaded_once(monkeypatch):
    uploads: list[tuple[int, ...]] = []

    def counting(array, device):
        uploads.append(array.shape)
        return to_device_chw(array, device)

    monkeypatch.setattr(tiling, "to_device_chw", counting)
    image = image_of(np.uint8, (301, 389, 3))
    rows, cols, th, _ = tiling.tile_grid(301, 389, tile=136, overlap=16, multiple=8)
    stream_tiled_on_device(blur_tensor, image, sink=lambda y0, r: None, device="cpu",
                           tile=136, overlap=16, multiple=8, batch=2)
    assert len(cols) > 1 and len(uploads) == len(rows)  # not once per tile
    assert all(s == (th, 392, 3) for s in uploads)  # the rows' samples, padded to 8


def test_bad_tile_functions_get_a_clear_error():
    image = image_of(np.uint8, (100, 120, 3))
    run = lambda fn, **kw: stream_tiled_on_device(
        fn, image, sink=lambda y0, r: None, device="cpu", tile=64, overlap=8, **kw)
    with pytest.raises(ShapeError, match=r"must return a tensor of shape \(1, C_out, 128, 128\)"):
        run(blur_tensor, scale=2)  # the function does not upscale: 64x64 tiles come back 64x64
    with pytest.raises(ShapeError, match="got ndarray"):
        run(lambda x: x.numpy(), scale=1)
    calls = []

    def changing(x):
        calls.append(1)
        return x if len(calls) == 1 else x[:, :1]

    with pytest.raises(ShapeError, match="same number of channels"):
        run(changing)
    with pytest.raises(InvalidParameterError, match="sink must be callable"):
        stream_tiled_on_device(blur_tensor, image, sink=None, device="cpu")
    with pytest.raises(InvalidParameterError, match="device must be None or a torch device"):
        stream_tiled_on_device(blur_tensor, image, sink=lambda y0, r: None, device="gpu:x")
    with pytest.raises(InvalidParameterError, match="must be larger than 2"):
        stream_tiled_on_device(blur_tensor, image, sink=lambda y0, r: None, device="cpu",
                               tile=64, overlap=40)


def test_device_chw_equals_the_host_conversion():
    rng = np.random.default_rng(3)
    arrays = [rng.integers(0, 256, (5, 7, 3)).astype(np.uint8),
              rng.integers(0, 65536, (5, 7, 3)).astype(np.uint16),
              rng.random((5, 7, 1)), rng.random((5, 7)).astype(np.float32),
              rng.random((5, 7, 3)) > 0.5]
    for array in arrays:
        assert torch.equal(to_device_chw(array, "cpu"), to_tensor(array)[0])
    with pytest.raises(InvalidParameterError, match="int32"):
        to_device_chw(np.zeros((4, 4), np.int32), "cpu")
    with pytest.raises(ShapeError):
        to_device_chw(np.zeros((4, 4, 3, 2), np.uint8), "cpu")


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
@pytest.mark.parametrize(("shape", "tile", "overlap", "scale", "multiple", "batch", "dtype"), CASES)
def test_cuda_rows_equal_the_numpy_engine(shape, tile, overlap, scale, multiple, batch, dtype):
    image = image_of(dtype, shape, seed=shape[0])
    kwargs = {"tile": tile, "overlap": overlap, "scale": scale, "multiple": multiple,
              "batch": batch}
    _, want, _ = collect(stream_tiled, lambda t: blur_array(t, scale), image, **kwargs)
    _, got, _ = collect(stream_tiled_on_device, lambda x: blur_tensor(x, scale), image,
                        device="cuda", **kwargs)
    np.testing.assert_allclose(np.concatenate([r for _, r in got]),
                               np.concatenate([r for _, r in want]), rtol=0, atol=1e-5)


def test_a_device_named_otherwise_than_its_tensors_report():
    """"cuda" holds tensors on "cuda:0" and "cpu:0" on "cpu": the engine compares the device
    the tensors land on, not the name it was given (an H200 run failed on "cuda")."""
    image = image_of(np.uint8, (70, 90, 3))
    _, expected, _ = collect(stream_tiled, blur_tensor, image, tile=32, overlap=8, device="cpu")
    _, rows, _ = collect(stream_tiled, blur_tensor, image, tile=32, overlap=8, device="cpu:0")
    assert [y for y, _ in rows] == [y for y, _ in expected]
    for (_, a), (_, b) in zip(rows, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("device", [None, "cpu", pytest.param(
    "cuda", marks=pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU"))])
def test_rows_quantised_for_the_sink_equal_from_float32_of_the_float_rows(dtype, device):
    """out_dtype: the sink gets samples, quantised as from_float32 quantises the float rows
    (with a device, on it), on both engines; a value over 1 and one under 0 are clipped."""
    from restora.io import from_float32

    image = image_of(np.uint16, (50, 70, 3), seed=3)
    engine = stream_tiled if device is None else stream_tiled_on_device
    fn = blur_array if device is None else blur_tensor
    kw = {"tile": 32, "overlap": 8} | ({} if device is None else {"device": device})
    _, floats, _ = collect(engine, fn, image, **kw)
    _, samples, _ = collect(engine, fn, image, out_dtype=dtype, **kw)
    assert [y for y, _ in samples] == [y for y, _ in floats]
    for (_, s), (_, f) in zip(samples, floats):
        assert s.dtype == dtype
        np.testing.assert_array_equal(s, from_float32(f, dtype))


def test_bad_out_dtype_is_refused():
    with pytest.raises(InvalidParameterError, match="out_dtype"):
        stream_tiled(blur_array, image_of(np.uint8, (20, 20, 3)), sink=lambda y0, r: None,
                     out_dtype=np.int8)
    with pytest.raises(InvalidParameterError, match="out_dtype"):
        stream_tiled(blur_array, image_of(np.uint8, (20, 20, 3)), sink=lambda y0, r: None,
                     out_dtype="no such type")


def test_tensor_rows_to_samples_round_as_from_float32():
    from restora.io import from_float32
    from restora.io.bridge import hwc_rows_to_samples

    # the half-way points of both depths, their float32 neighbours, and values out of range
    k = np.arange(256, dtype=np.float32)
    values = np.concatenate([(k + 0.5) / 255, np.nextafter((k + 0.5) / 255, np.float32(0)),
                             (k[:200] * 257 + 0.5) / 65535, [-0.2, 1.7, 0.0, 1.0]]).astype(np.float32)
    rows = values.reshape(1, -1, 1)
    for dtype in (np.uint8, np.uint16):
        got = hwc_rows_to_samples(torch.from_numpy(rows), dtype)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, from_float32(rows, dtype))
    with pytest.raises(InvalidParameterError, match="NaN"):
        hwc_rows_to_samples(torch.tensor([[[float("nan")]]]))
    with pytest.raises(InvalidParameterError, match="dtype must be numpy.uint8 or numpy.uint16, got int8"):
        hwc_rows_to_samples(torch.zeros(2, 2, 1), np.int8)
    with pytest.raises(ShapeError, match=r"expected HWC rows, got shape \(2, 2\)"):
        hwc_rows_to_samples(torch.zeros(2, 2))
