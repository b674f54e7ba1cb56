"""Restorer.run_file streams a single method from the file's samples to the file's: the same
values as restoring the decoded float photo and writing it, in bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from PIL import Image

import restora.run
from restora.io import read_image, write_image
from restora.options import Choice, Execution, Output, Params
from restora.run import Restorer


def _write(path, array):
    if array.dtype == np.uint16:  # 16-bit PNG through restora's own writer
        write_image(array, path)
    else:
        Image.fromarray(array).save(path)
    return path


def _in_memory(restorer, source, target, params):
    photo = read_image(source)
    restored, _ = restorer.run_photo(photo, params)
    return write_image(restored, target)


@pytest.mark.parametrize(("kind", "task", "method", "params"), [
    ("rgb8", "denoise", "nlm", Params(sigma=12)),
    ("gray8", "denoise", "tv", Params(sigma=12)),
    ("rgb16", "denoise", "nlm", Params(sigma=12)),
    ("rgba8", "upscale", "bicubic", Params(scale=2)),
    ("rgba16", "upscale", "bicubic", Params(scale=2)),
])
def test_streamed_file_equals_decode_restore_encode(tmp_path, kind, task, method, params):
    rng = np.random.default_rng(1)
    channels = {"rgb": 3, "gray": 1, "rgba": 4}[kind[:-2] if kind.endswith("16") else kind[:-1]]
    dtype = np.uint16 if kind.endswith("16") else np.uint8
    top = np.iinfo(dtype).max
    shape = (150, 170) if channels == 1 else (150, 170, channels)
    source = _write(tmp_path / "in.png", rng.integers(0, top + 1, shape, dtype=np.uint64).astype(dtype))
    restorer = Restorer(Choice(task=task, method=method), Execution(tile=140, overlap=8))
    streamed, _ = restorer.run_file(source, tmp_path / "streamed.png", params)
    expected = _in_memory(restorer, source, tmp_path / "expected.png", params)
    a, b = read_image(streamed), read_image(expected)
    assert a.bit_depth == b.bit_depth == (16 if dtype == np.uint16 else 8)
    np.testing.assert_array_equal(a.pixels, b.pixels)
    assert (a.alpha is None) == (b.alpha is None) == (channels != 4)
    if a.alpha is not None:
        np.testing.assert_array_equal(a.alpha, b.alpha)


def test_streamed_file_keeps_no_float_copy_of_the_image(tmp_path, monkeypatch):
    """2000x1500 RGB: the float32 image would be 34 MiB; the streamed run's numpy
    allocations peak below it (8-bit input and output, one band of tiles)."""
    monkeypatch.setattr(restora.run, "run_method", lambda info, tile, **kw: tile)
    rng = np.random.default_rng(2)
    source = _write(tmp_path / "big.png", rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8))
    restorer = Restorer(Choice(task="denoise", method="nlm"), Execution(tile=256))
    tracemalloc.start()
    restorer.run_file(source, tmp_path / "out.png", Params(sigma=10), Output())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1500 * 2000 * 3 * 4
