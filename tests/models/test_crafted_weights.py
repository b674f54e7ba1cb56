"""The crafted-weights suite (``tests/models/crafted_weights.py``), a seeded CI slice: pickle
payloads in every container, lying safetensors headers, huge configurations, partial state
dicts, malformed and HDF5-external ``.mat`` files, object-dtype kernels. No payload runs, no
exception but a restora error escapes, every message is one line naming the file, and no
file (all under 10 MB) takes 1 GiB of peak RSS to refuse."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("h5py")

from tests.models.crafted_weights import run_suite, violations


@pytest.mark.slow
def test_crafted_weights_suite(tmp_path):
    cases, rows, peak_mib = run_suite(tmp_path, seed=0, partial_per_arch=3, payloads=3)
    assert violations(rows, tmp_path) == []
    assert peak_mib < 1024
    assert set(Counter(c.family for c in cases)) == {
        "pickle", "safetensors", "huge_config", "partial", "mat", "mat_hdf5", "kernel"}
    by_name = {(r["family"], r["name"]): r for r in rows}
    payloads = [r for r in rows if r["payload"]]
    assert len(payloads) == 24 and all(r["outcome"] == "refused" for r in payloads)
    assert {r["error"] for r in payloads if r["kind"] == "model"} <= {"UnsafeModelError",
                                                                        "ModelLoadError"}
    mat = {name: r for (family, name), r in by_name.items() if family == "mat"}
    expected = {
        "conv_without_weights": "layer 1 is a conv with 0 weight array(s); it needs 2",
        "short_bnorm": "layer 2 is a bnorm with 2 weight array(s); it needs 3",
        "filter_5d": "filter has shape [3, 3, 1, 4, 2]",
        "bnorm_wrong_moments": "6 moments after a conv with 4 filters",
        "channels_do_not_chain": "taking 5 channels after a conv giving 4",
        "text_weights": "cannot be read",
    }
    for name, message in expected.items():
        assert mat[name]["error"] == "ModelLoadError" and message in mat[name]["message"], mat[name]
    partial = [r for r in rows if r["family"] == "partial"]
    assert all(r["outcome"] in ("refused", "loaded") for r in partial)
    assert all(r["error"] == "ModelLoadError" for r in partial if r["outcome"] == "refused")
    hdf5 = [r for r in rows if r["family"] == "mat_hdf5" and r["name"] in
            ("external_storage", "external_link", "virtual", "gzip_bomb")]
    assert all("not self-contained or too large" in r["message"] for r in hdf5)


def test_kernels_are_checked_before_any_float_copy(tmp_path):
    """A complex kernel is refused (not silently cut to its real part); a 6000x6000 kernel
    is refused from its shape, before the float64 copy (288 MB) is made."""
    from restora.degrade import load_kernel
    from restora.errors import ImageError

    np.save(tmp_path / "c.npy", np.ones((3, 3), np.complex128))
    with pytest.raises(ImageError, match="real numbers, got dtype complex128"):
        load_kernel(tmp_path / "c.npy")
    np.save(tmp_path / "big.npy", np.zeros((6000, 6000), np.uint8))
    with pytest.raises(ImageError, match=r"declares shape \(6000, 6000\).*Nothing was decoded"):
        load_kernel(tmp_path / "big.npy")
    np.save(tmp_path / "ok.npy", np.ones((3, 3), np.uint8))
    np.testing.assert_allclose(load_kernel(tmp_path / "ok.npy"), np.full((3, 3), 1 / 9))
