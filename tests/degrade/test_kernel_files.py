"""Kernel files that declare huge arrays are refused from their headers, before decoding."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from restora.degrade.kernels import MAX_STORED_VALUES, load_kernel
from restora.errors import ImageError


def _npy_header_only(path: Path, shape: tuple[int, ...]) -> Path:
    """A .npy whose header declares ``shape`` (float64) with no data behind it."""
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return path


def _refused_cheaply(path: Path, shape: tuple[int, ...]) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match=r"declares shape \(" + ", ".join(map(str, shape))):
            load_kernel(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"{path.name}: {peak / 2**20:.0f} MiB allocated before refusing"


def test_npy_header_declaring_a_huge_array(tmp_path):
    _refused_cheaply(_npy_header_only(tmp_path / "huge.npy", (100000, 100000)), (100000, 100000))


def test_compressed_mat_and_npz_with_a_large_array(tmp_path):
    import scipy.io

    big = np.zeros((3000, 3000))  # 72 MB of float64, a few KB compressed
    assert big.size > MAX_STORED_VALUES
    scipy.io.savemat(tmp_path / "big.mat", {"k": big}, do_compression=True)
    np.savez_compressed(tmp_path / "big.npz", k=big)
    assert (tmp_path / "big.mat").stat().st_size < 1_000_000
    for name in ("big.mat", "big.npz"):
        _refused_cheaply(tmp_path / name, (3000, 3000))


def test_tiff_with_a_large_page(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "big.tif", np.zeros((2100, 2100), np.uint8), compression="zlib")
    _refused_cheaply(tmp_path / "big.tif", (2100, 2100))


def test_a_stack_of_kernels_still_loads(tmp_path):
    import scipy.io

    stack = np.zeros((8, 15, 15))
    stack[:, 7, 7] = 1.0
    stack[3, 7, 6:9] = 1.0
    scipy.io.savemat(tmp_path / "stack.mat", {"k": stack})
    np.savez(tmp_path / "stack.npz", k=stack)
    for name in ("stack.mat", "stack.npz"):
        k = load_kernel(tmp_path / name, index=3)
        assert k.shape == (15, 15) and k[7, 6] == pytest.approx(1 / 3)
