"""imresize / resize_matrix against hand-computed MATLAB weights and invariants."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from restora.degrade import RESIZE_KERNELS, imresize, resize_matrix
from restora.errors import InvalidParameterError, ShapeError

# Keys cubic (a = -0.5) at the distances that scale 2 upsampling uses, worked by hand:
# cubic(0.25) = 0.8671875, cubic(0.75) = 0.2265625, cubic(1.25) = -0.0703125,
# cubic(1.75) = -0.0234375.
C025, C075, C125, C175 = 0.8671875, 0.2265625, -0.0703125, -0.0234375


def column(values: list[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)[:, None]  # an H x 1 image


def test_upscale_x2_step_interior_values() -> None:
    # out pixel x (1-based) samples u = x/2 + 0.25; for x = 8, 9: u = 4.25, 4.75.
    step = column([0, 0, 0, 0, 1, 1, 1, 1])
    out = imresize(step, 2)[:, 0]
    assert out.shape == (16,)
    assert out[7] == pytest.approx(C075 + C175, abs=1e-15)  # 0.203125
    assert out[8] == pytest.approx(C025 + C125, abs=1e-15)  # 0.796875
    assert out[8] == pytest.approx(0.796875, abs=1e-15)


def test_upscale_x2_ramp_is_linear_inside_and_replicated_at_the_edge() -> None:
    ramp = column(list(range(1, 11)))
    out = imresize(ramp, 2)[:, 0]
    u = np.arange(1, 21) / 2 + 0.25
    np.testing.assert_allclose(out[3:-3], u[3:-3], atol=1e-13)  # cubic reproduces lines
    # first output (u = 0.75): taps at pixels -1, 0, 1, 2 with MATLAB's clamped indices
    assert out[0] == pytest.approx((C175 + C075 + C025) * 1 + C125 * 2, abs=1e-15)  # 0.9296875
    # BasicSR mirrors instead: pixel -1 -> 2, pixel 0 -> 1
    sym = imresize(ramp, 2, boundary="symmetric")[:, 0]
    assert sym[0] == pytest.approx(C175 * 2 + (C075 + C025) * 1 + C125 * 2, abs=1e-15)  # 0.90625
    np.testing.assert_allclose(sym[3:-3], out[3:-3], atol=1e-13)


def test_downscale_x2_antialiased_weights() -> None:
    # h(x) = cubic(x/2)/2 at distances 0.5, 1.5, 2.5, 3.5 from u = 2x - 0.5
    expected_half = np.array([C025, C075, C125, C175]) / 2
    m = resize_matrix(20, 10, 0.5, "bicubic", True)
    row = m[4]  # out pixel 5 (1-based): u = 9.5, taps 6..13 (1-based) -> 5..12
    np.testing.assert_allclose(row[9:13], expected_half, atol=1e-15)
    np.testing.assert_allclose(row[5:9], expected_half[::-1], atol=1e-15)
    assert np.count_nonzero(row) == 8
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-14)


def test_downscale_x3_antialiased_weights_as_fractions() -> None:
    # h(d) = cubic(d/3)/3 for d = 0, +-1 .. +-5 around the integer u = 3x - 1
    def cubic(t: Fraction) -> Fraction:
        a = abs(t)
        if a <= 1:
            return Fraction(3, 2) * a**3 - Fraction(5, 2) * a**2 + 1
        if a <= 2:
            return Fraction(-1, 2) * a**3 + Fraction(5, 2) * a**2 - 4 * a + 2
        return Fraction(0)

    w = [cubic(Fraction(d, 3)) / 3 for d in range(-5, 6)]
    assert sum(w) == 1  # so MATLAB's normalisation changes nothing inside
    m = resize_matrix(30, 10, 1 / 3, "bicubic", True)
    row = m[4]  # u = 14 (1-based) -> index 13
    np.testing.assert_allclose(row[8:19], [float(v) for v in w], atol=1e-15)
    x = np.random.default_rng(1).random((30, 1))
    assert imresize(x, 1 / 3)[4, 0] == pytest.approx(float(np.dot(row, x[:, 0])), abs=1e-14)


def test_box_x2_is_block_mean_and_bilinear_x2_interpolates() -> None:
    x = np.random.default_rng(2).random((8, 6, 3))
    box = imresize(x, 0.5, kernel="box")
    blocks = x.reshape(4, 2, 3, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(box, blocks, atol=1e-15)
    lin = imresize(x, 2, kernel="bilinear")
    # out row 2 (1-based) has u = 1.25: 0.75 * row1 + 0.25 * row2 (columns resized the same way)
    cols = imresize(x, output_shape=(8, 12), kernel="triangle")
    np.testing.assert_allclose(lin[1], 0.75 * cols[0] + 0.25 * cols[1], atol=1e-14)


def test_lanczos_weights_follow_the_sinc_formula() -> None:
    for name, a in (("lanczos2", 2), ("lanczos3", 3)):
        m = resize_matrix(40, 80, 2.0, name, True)
        row = m[40]  # u = 41/2 + 0.25 = 20.75 (1-based)
        idx = np.arange(1, 41)
        d = 20.75 - idx
        w = np.sinc(d) * np.sinc(d / a) * (np.abs(d) < a)
        np.testing.assert_allclose(row, w / w.sum(), atol=1e-12)


@pytest.mark.parametrize("kernel", RESIZE_KERNELS)
@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.5, 0.8, 1.0, 1.7, 2.0, 3.0])
def test_constant_image_stays_constant(kernel: str, scale: float) -> None:
    x = np.full((17, 12, 3), 0.37, dtype=np.float32)
    out = imresize(x, scale, kernel=kernel)
    assert out.dtype == np.float32
    assert out.shape == (int(np.ceil(17 * scale)), int(np.ceil(12 * scale)), 3)
    np.testing.assert_allclose(out, 0.37, atol=2e-6)


def test_scale_one_is_identity_and_input_untouched() -> None:
    x = np.random.default_rng(3).random((9, 7))
    before = x.copy()
    np.testing.assert_allclose(imresize(x, 1.0), x, atol=1e-15)
    imresize(x, 0.5)
    np.testing.assert_array_equal(x, before)
    assert imresize(x, 0.5).dtype == np.float64


def test_output_shape_and_aspect() -> None:
    x = np.random.default_rng(4).random((20, 30))
    assert imresize(x, output_shape=(10, None)).shape == (10, 15)
    assert imresize(x, output_shape=(None, 60)).shape == (40, 60)
    assert imresize(x, output_shape=(7, 11)).shape == (7, 11)
    np.testing.assert_allclose(imresize(x, output_shape=(10, 15)), imresize(x, 0.5), atol=1e-15)


def test_uint8_rounds_each_pass_in_matlab_order() -> None:
    # MATLAB resizes the dimension with the smaller scale first and rounds uint8 after each pass.
    x = (np.random.default_rng(5).random((24, 24)) * 255).astype(np.uint8)
    out = imresize(x, output_shape=(18, 8))  # width shrinks more -> width first
    assert out.dtype == np.uint8
    w_first = imresize(imresize(x, output_shape=(24, 8)), output_shape=(18, 8))
    h_first = imresize(imresize(x, output_shape=(18, 24)), output_shape=(18, 8))
    np.testing.assert_array_equal(out, w_first)
    assert np.any(out != h_first)  # the order is observable, so the test can fail
    ref = np.floor(imresize(x.astype(np.float64), output_shape=(18, 8)) + 0.5)
    assert np.abs(out.astype(float) - ref).max() <= 1


def test_errors_name_the_option() -> None:
    x = np.zeros((4, 4))
    with pytest.raises(InvalidParameterError, match="exactly one of scale"):
        imresize(x, 0.5, output_shape=(2, 2))
    with pytest.raises(InvalidParameterError, match="exactly one of scale"):
        imresize(x)
    with pytest.raises(InvalidParameterError, match="scale: expected a value > 0"):
        imresize(x, -2)
    with pytest.raises(InvalidParameterError, match="kernel: expected one of bicubic"):
        imresize(x, 2, kernel="nearest")
    with pytest.raises(InvalidParameterError, match="boundary: expected one of replicate"):
        imresize(x, 2, boundary="wrap")
    with pytest.raises(InvalidParameterError, match="output_shape"):
        imresize(x, output_shape=(0, 3))
    with pytest.raises(ShapeError, match="HW or HWC"):
        imresize(np.zeros((2, 3, 4, 5)), 2)
    with pytest.raises(InvalidParameterError, match="uint8 or uint16"):
        imresize(np.zeros((4, 4), dtype=np.int32), 2)
