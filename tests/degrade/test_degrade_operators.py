"""Linear operators: the adjoint identity <A x, y> = <x, A^T y> in float64, and forward values."""

from __future__ import annotations

import numpy as np
import pytest

from restora.degrade import (
    BlurOperator,
    ComposeOperator,
    DownsampleOperator,
    LinearOperator,
    MaskOperator,
    ResizeOperator,
    blur,
    gaussian_kernel,
    imresize,
    motion_kernel,
)
from restora.errors import InvalidParameterError, ShapeError

SHAPES = [(7, 9), (8, 11, 3), (13, 10, 1), (16, 16, 3)]
_RNG = np.random.default_rng(123)
_K_ODD = _RNG.random((5, 3))
_K_EVEN = _RNG.random((4, 6))


def _operators(shape: tuple[int, ...]) -> list[tuple[str, LinearOperator]]:
    mask = (np.random.default_rng(9).random(shape[:2]) > 0.4).astype(float)
    ops: list[tuple[str, LinearOperator]] = []
    for b in ("circular", "reflect", "zero", "valid"):
        ops.append((f"blur-{b}-odd", BlurOperator(_K_ODD, boundary=b)))
        ops.append((f"blur-{b}-even", BlurOperator(_K_EVEN, boundary=b)))
    ops.append(("blur-large-circular", BlurOperator(gaussian_kernel(4.0), boundary="circular")))
    ops.append(("blur-large-reflect", BlurOperator(gaussian_kernel(4.0), boundary="reflect")))
    for s in (0.5, 1 / 3, 0.7, 2.0, 3.0):
        ops.append((f"resize-{s:.3f}", ResizeOperator(s)))
    ops.append(("resize-lanczos3", ResizeOperator(0.5, kernel="lanczos3")))
    ops.append(("resize-symmetric", ResizeOperator(0.5, boundary="symmetric")))
    ops.append(("resize-noaa", ResizeOperator(0.25, antialias=False)))
    ops.append(("down2", DownsampleOperator(2)))
    ops.append(("down3", DownsampleOperator(3)))
    ops.append(("mask", MaskOperator(mask)))
    ops.append(
        ("blur+down", ComposeOperator(BlurOperator(motion_kernel(5, 30)), DownsampleOperator(2)))
    )
    ops.append(
        (
            "valid+resize+mask",
            ComposeOperator(
                BlurOperator(_K_ODD, boundary="valid"), ResizeOperator(0.5), DownsampleOperator(1)
            ),
        )
    )
    return ops


@pytest.mark.parametrize("shape", SHAPES)
def test_adjoint_identity(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape))
    for name, op in _operators(shape):
        x = rng.random(shape)
        out_shape = op.output_shape(shape)
        y = rng.random(out_shape)
        ax = op(x)
        assert ax.shape == out_shape, name
        aty = op.A_adjoint(y, in_shape=shape)
        assert aty.shape == shape, name
        lhs, rhs = float(np.vdot(ax, y)), float(np.vdot(x, aty))
        assert abs(lhs - rhs) <= 1e-10 * abs(lhs), (name, lhs, rhs)


def test_forward_matches_the_functions() -> None:
    x = np.random.default_rng(1).random((17, 14, 3))
    k = motion_kernel(6, 20)
    for b in ("reflect", "circular", "zero", "valid"):
        np.testing.assert_allclose(
            BlurOperator(k, boundary=b)(x), blur(x, k, boundary=b), atol=1e-12
        )
    for s in (0.5, 1 / 3, 2.0):
        np.testing.assert_allclose(ResizeOperator(s)(x), imresize(x, s), atol=1e-12)
    np.testing.assert_array_equal(DownsampleOperator(3)(x), x[::3, ::3])


def test_circular_blur_is_the_fft_product() -> None:
    rng = np.random.default_rng(2)
    x = rng.random((12, 10))
    k = rng.random((3, 5))
    kimg = np.zeros_like(x)
    for a in range(3):
        for b in range(5):
            kimg[(a - 1) % 12, (b - 2) % 10] += k[a, b]  # origin (kh // 2, kw // 2) at (0, 0)
    ref = np.real(np.fft.ifft2(np.fft.fft2(x) * np.fft.fft2(kimg)))
    op = BlurOperator(k, boundary="circular")
    np.testing.assert_allclose(op(x), ref, atol=1e-12)
    y = rng.random((12, 10))
    adj = np.real(np.fft.ifft2(np.fft.fft2(y) * np.conj(np.fft.fft2(kimg))))
    np.testing.assert_allclose(op.A_adjoint(y), adj, atol=1e-12)


def test_downsample_adjoint_zero_fills() -> None:
    op = DownsampleOperator(2)
    y = np.arange(6, dtype=float).reshape(2, 3)
    z = op.A_adjoint(y)
    assert z.shape == (4, 6)
    np.testing.assert_array_equal(z[::2, ::2], y)
    assert z[1::2].sum() == 0 and z[:, 1::2].sum() == 0
    assert op.A_adjoint(y, in_shape=(3, 5)).shape == (3, 5)


def test_shape_helpers_and_errors() -> None:
    comp = ComposeOperator(BlurOperator(np.ones((3, 3)), boundary="valid"), DownsampleOperator(2))
    assert comp.output_shape((11, 13, 3)) == (5, 6, 3)
    assert comp.input_shape((5, 6, 3)) == (12, 14, 3)
    r = ResizeOperator(0.5)
    assert r.input_shape((8, 5)) == (16, 10)
    with pytest.raises(ShapeError, match="pass in_shape= to A_adjoint"):
        ResizeOperator(3.0).input_shape((4, 4))
    with pytest.raises(ShapeError, match=r"an input of shape \(9, 9\) gives \(5, 5\)"):
        r.A_adjoint(np.zeros((4, 4)), in_shape=(9, 9))
    with pytest.raises(ShapeError, match="mask .* does not fit"):
        MaskOperator(np.ones((4, 4)))(np.ones((5, 4)))
    with pytest.raises(InvalidParameterError, match="factor: expected a positive integer"):
        DownsampleOperator(0)
    with pytest.raises(InvalidParameterError, match="ComposeOperator: expected one or more"):
        ComposeOperator(np.eye(3))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="kernel: expected one of bicubic"):
        ResizeOperator(0.5, kernel="nearest")
