"""Kernels (Gaussian, motion, files, spec strings) and the blur convolution."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from restora.degrade import blur, gaussian_kernel, load_kernel, motion_kernel, parse_kernel
from restora.errors import ImageError, InvalidParameterError, ShapeError

SHARED_KERNELS = (
    Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "blur_kernels_levin09"
)


def test_gaussian_kernel_formula_size_symmetry() -> None:
    k = gaussian_kernel(2.0)
    assert k.shape == (13, 13)  # 2 * ceil(3 * 2) + 1
    assert k.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(k, k.T, atol=0)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=0)
    assert k[6, 7] / k[6, 6] == pytest.approx(math.exp(-1 / 8), rel=1e-12)
    assert k[6, 6] == k.max()
    assert gaussian_kernel(0.5, 7).shape == (7, 7)
    with pytest.raises(InvalidParameterError, match="sigma: expected a value > 0"):
        gaussian_kernel(0)
    with pytest.raises(InvalidParameterError, match="size: expected a positive integer"):
        gaussian_kernel(1.0, 0)


def test_motion_kernel_orientation_sum_symmetry() -> None:
    h = motion_kernel(7, 0)
    assert h.shape == (9, 9)
    assert h.sum() == pytest.approx(1.0, abs=1e-14)
    assert np.count_nonzero(h[4]) == np.count_nonzero(h)  # horizontal: only the middle row
    v = motion_kernel(7, 90)
    np.testing.assert_allclose(v, h.T, atol=1e-15)  # vertical: the middle column
    d = motion_kernel(7, 45)  # bottom-left to top-right
    np.testing.assert_allclose(d, d[::-1, ::-1], atol=1e-15)
    assert d[2, 6] > 0 and d[6, 2] > 0 and d[2, 2] == 0 and d[6, 6] == 0
    np.testing.assert_allclose(motion_kernel(7, 135), d[:, ::-1], atol=1e-15)
    np.testing.assert_allclose(motion_kernel(7, 180), h, atol=1e-15)
    # spread along the line ~ uniform over the length: variance L^2 / 12 (+ splat 1/6 at ends)
    cols = np.arange(9) - 4
    var = float((h.sum(axis=0) * cols**2).sum())
    assert var == pytest.approx(49 / 12 + 1 / 6, rel=0.03)
    with pytest.raises(InvalidParameterError, match="length: expected a value >= 1"):
        motion_kernel(0.5, 0)


def test_load_kernel_formats(tmp_path: Path) -> None:
    import scipy.io
    from PIL import Image

    raw = np.arange(1, 10, dtype=np.float64).reshape(3, 3)
    np.save(tmp_path / "k.npy", raw)
    np.testing.assert_allclose(load_kernel(tmp_path / "k.npy"), raw / raw.sum())
    Image.fromarray(raw.astype(np.uint8)).save(tmp_path / "k.png")
    np.testing.assert_allclose(load_kernel(tmp_path / "k.png"), raw / raw.sum())
    scipy.io.savemat(tmp_path / "one.mat", {"psf": raw})
    np.testing.assert_allclose(load_kernel(tmp_path / "one.mat"), raw / raw.sum())
    scipy.io.savemat(tmp_path / "two.mat", {"a": raw, "b": raw.T})
    np.testing.assert_allclose(load_kernel(tmp_path / "two.mat", key="b"), raw.T / raw.sum())
    with pytest.raises(ImageError, match=r"two.mat: holds several variables \['a', 'b'\]"):
        load_kernel(tmp_path / "two.mat")
    np.savez(tmp_path / "s.npz", ks=np.stack([raw, raw.T]))
    np.testing.assert_allclose(load_kernel(tmp_path / "s.npz", index=1), raw.T / raw.sum())


def test_load_kernel_errors(tmp_path: Path) -> None:
    from PIL import Image

    with pytest.raises(ImageError, match="missing.npy: kernel file not found"):
        load_kernel(tmp_path / "missing.npy")
    Image.fromarray(np.zeros((3, 3, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ImageError, match="must be gray"):
        load_kernel(tmp_path / "rgb.png")
    np.save(tmp_path / "zero.npy", np.zeros((3, 3)))
    with pytest.raises(ImageError, match="positive sum"):
        load_kernel(tmp_path / "zero.npy")
    np.save(tmp_path / "vec.npy", np.ones(5))
    with pytest.raises(ImageError, match="2-D array"):
        load_kernel(tmp_path / "vec.npy")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ImageError, match="bad.npy: could not read the kernel"):
        load_kernel(tmp_path / "bad.npy")
    (tmp_path / "k.txt").write_text("1 2 3")
    with pytest.raises(ImageError, match="unknown kernel format '.txt'"):
        load_kernel(tmp_path / "k.txt")


def test_levin_mat_v73_matches_npz() -> None:
    mat, npz = SHARED_KERNELS / "Levin09.mat", SHARED_KERNELS / "levin09_kernels.npz"
    if not (mat.is_file() and npz.is_file()):
        pytest.skip(f"shared kernels not found at {SHARED_KERNELS}")
    ref = np.load(npz)
    for i in (0, 3, 7):
        np.testing.assert_allclose(load_kernel(mat, index=i), ref[f"kernel_{i + 1}"], atol=1e-15)
    np.testing.assert_allclose(parse_kernel(f"{mat}#3"), ref["kernel_4"], atol=1e-15)
    np.testing.assert_allclose(parse_kernel(f"{npz}#kernel_2"), ref["kernel_2"], atol=1e-15)
    with pytest.raises(ImageError, match="holds 8 kernels"):
        load_kernel(mat)


def test_parse_kernel_specs(tmp_path: Path) -> None:
    np.testing.assert_array_equal(parse_kernel("gauss:2.0"), gaussian_kernel(2.0))
    np.testing.assert_array_equal(parse_kernel("Gaussian: 1.5, 7"), gaussian_kernel(1.5, 7))
    np.testing.assert_array_equal(parse_kernel("motion:15,30"), motion_kernel(15, 30))
    np.save(tmp_path / "k.npy", np.ones((3, 3)))
    np.testing.assert_allclose(parse_kernel(str(tmp_path / "k.npy")), np.full((3, 3), 1 / 9))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("gauss:abc", "expected 'gauss:SIGMA'"),
        ("motion:15", "expected 'gauss:SIGMA'"),
        ("gauss:1,2,3", "expected 'gauss:SIGMA'"),
        ("blob:3", "no such file either"),
        ("", "expected 'gauss:SIGMA'"),
        ("gauss:-1", "sigma: expected a value > 0"),
    ],
)
def test_parse_kernel_bad_spec(spec: str, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        parse_kernel(spec)


def test_parse_kernel_missing_file() -> None:
    with pytest.raises(ImageError, match="nope.npy: kernel file not found"):
        parse_kernel("nope.npy")


def test_blur_of_impulse_reproduces_the_kernel() -> None:
    k = np.arange(15, dtype=np.float64).reshape(3, 5)  # asymmetric: a flip would show
    x = np.zeros((11, 12))
    x[5, 6] = 1
    for boundary in ("reflect", "circular", "zero"):
        out = blur(x, k, boundary=boundary)
        np.testing.assert_allclose(out[4:7, 4:9], k, atol=1e-12)  # centred on the impulse
        assert np.abs(out).sum() == pytest.approx(k.sum())
    valid = blur(x, k, boundary="valid")
    assert valid.shape == (9, 8)
    # output (i, j) is centred on input (i + 1, j + 2)
    np.testing.assert_allclose(valid[3:6, 2:7], k, atol=1e-12)


def test_blur_matches_ndimage_and_keeps_constants() -> None:
    from scipy import ndimage

    rng = np.random.default_rng(0)
    x = rng.random((15, 18, 3)).astype(np.float32)
    before = x.copy()
    for shape in ((5, 5), (4, 6)):
        k = rng.random(shape)
        for ours, mode in (("reflect", "reflect"), ("circular", "wrap"), ("zero", "constant")):
            ref = ndimage.convolve(x.astype(np.float64), k[:, :, None], mode=mode)
            out = blur(x, k, boundary=ours)
            assert out.dtype == np.float32
            np.testing.assert_allclose(out, ref, atol=1e-5)
    np.testing.assert_array_equal(x, before)
    c = np.full((9, 9), 0.25)
    for boundary in ("reflect", "circular"):
        np.testing.assert_allclose(
            blur(c, gaussian_kernel(3.0), boundary=boundary), 0.25, atol=1e-14
        )


def test_blur_errors() -> None:
    with pytest.raises(InvalidParameterError, match="boundary: expected one of reflect"):
        blur(np.zeros((5, 5)), np.ones((3, 3)), boundary="mirror")
    with pytest.raises(ShapeError, match=r"kernel \(7, 7\) is larger than the image"):
        blur(np.zeros((5, 5)), np.ones((7, 7)), boundary="valid")
    with pytest.raises(ShapeError, match="kernel: expected a finite 2-D array"):
        blur(np.zeros((5, 5)), np.ones(3))
