"""Smoke test of benchmarks/pnp_sr_inpaint_table.py on one small astronaut crop (TV prior only)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def table():
    return benchmark_script("pnp_sr_inpaint_table")


def test_sr_degradation_is_blur_then_decimation(table, astronaut) -> None:
    clean = astronaut[100:166, 200:263]  # 66 x 63 -> cropped to 64 x 60
    ref, y, k = table.degrade(clean, task="sr", index=0)
    assert ref.shape == (64, 60, 3) and y.shape == (16, 15, 3)
    assert k.shape == (11, 11) and np.isclose(k.sum(), 1.0)
    # pixel (0, 0) of y: circular blur of ref at (0, 0), wrapping round the edges
    pad = np.pad(ref.astype(np.float64), ((5, 5), (5, 5), (0, 0)), mode="wrap")
    expected = (pad[:11, :11] * k[::-1, ::-1, None]).sum(axis=(0, 1))
    np.testing.assert_allclose(y[0, 0], expected, atol=1e-5)


def test_inpaint_mask_is_seeded_and_half(table, astronaut) -> None:
    clean = astronaut[:64, :64]
    _, y0, m0 = table.degrade(clean, task="inpaint", index=0)
    _, _, m0b = table.degrade(clean, task="inpaint", index=0)
    _, _, m1 = table.degrade(clean, task="inpaint", index=1)
    np.testing.assert_array_equal(m0, m0b)
    assert not np.array_equal(m0, m1)
    assert abs(m0.mean() - 0.5) < 0.05
    assert np.all(y0[m0 == 0] == 0)


def test_run_table_pnp_beats_baselines(table, astronaut) -> None:
    crops = [astronaut[100:164, 200:264]]
    sr, sr_sec = table.run_table(crops, task="sr", names=["bicubic", "pnp_tv", "telea"])
    assert set(sr) == {"bicubic", "pnp_tv"}  # telea is an inpainting row
    assert sr["pnp_tv"][0] > sr["bicubic"][0] + 1.0
    inp, _ = table.run_table(crops, task="inpaint", names=["masked", "telea", "pnp_tv"])
    assert inp["masked"][0] < 12.0
    assert inp["telea"][0] > inp["masked"][0] + 10.0
    assert inp["pnp_tv"][0] > inp["telea"][0]
    assert all(v >= 0 for v in sr_sec.values())
