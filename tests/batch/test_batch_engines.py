"""Engines agree byte for byte, and metadata (EXIF, ICC) survives a batch."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms

from restora.batch import run_batch
from restora.io import Metadata, Photo, read_image, write_image
from tests.batch.batch_data import OPTIONS, make_bad_files, make_images


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS R5"
    exif[0x0132] = "2024:05:01 10:00:00"
    return exif.tobytes()


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _tags(exif: bytes | None) -> dict[int, object]:
    assert exif, "no EXIF"
    parsed = Image.Exif()
    parsed.load(exif)
    return {k: parsed.get(k) for k in (0x010F, 0x0110, 0x0132)}


def test_exif_and_icc_survive_on_every_output(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    rng = np.random.default_rng(0)
    pixels = np.clip(0.5 + rng.normal(0, 0.04, (24, 40, 3)), 0, 1).astype(np.float32)
    meta = Metadata(exif=_exif(), icc=_icc())
    names = ["photo.jpg", "deep.png", "scan.tif"]
    depths = {"photo.jpg": 8, "deep.png": 16, "scan.tif": 16}
    try:
        import pillow_heif  # noqa: F401

        names.append("phone.heic")
        depths["phone.heic"] = 8
    except ImportError:
        pass
    for name in names:
        write_image(Photo(pixels=pixels, bit_depth=depths[name], metadata=meta), src / name)
    summary = run_batch(src, out, OPTIONS, workers=2)
    assert (summary.done, summary.failed) == (len(names), 0), summary.failures
    for name in names:
        original, restored = read_image(src / name), read_image(out / name)
        assert restored.metadata.icc == original.metadata.icc == meta.icc, name
        if name != "scan.tif":  # TIFF keeps the main IFD0 tags (checked below), not the block
            assert _tags(restored.metadata.exif) == _tags(meta.exif), name
        assert restored.bit_depth == depths[name] and restored.pixels.shape == (24, 40, 3)
    with Image.open(out / "scan.tif") as im:
        assert im.tag_v2.get(0x010F) == "Canon" and im.tag_v2.get(0x0110) == "EOS R5"


def test_ray_engine_matches_local_engine_byte_for_byte(tmp_path):
    pytest.importorskip("ray", reason="the Ray engine needs the 'ray' extra (pip install 'restora[ray]')")
    src = tmp_path / "in"
    make_images(src, 12)
    make_bad_files(src / "bad")
    make_images(src / "sub", 3, prefix="nested")
    local = run_batch(src, tmp_path / "local", OPTIONS, workers=2, recursive=True)
    ray_run = run_batch(src, tmp_path / "ray", OPTIONS, engine="ray", workers=2,
                        recursive=True)
    assert (ray_run.done, ray_run.failed, ray_run.workers) == (local.done, local.failed, 2) == (15, 5, 2)
    assert sorted(ray_run.failures) == sorted(local.failures)
    outputs = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*.png"))
    assert len(outputs) == 15
    for rel in outputs:
        assert (tmp_path / "ray" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes(), rel
    again = run_batch(src, tmp_path / "ray", OPTIONS, engine="ray", workers=2,
                      recursive=True)
    assert (again.done, again.skipped, again.failed_before) == (0, 15, 5)


def test_ray_missing_extra_message(tmp_path, monkeypatch):
    import sys

    from restora.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "ray", None)
    make_images(tmp_path / "in", 1)
    with pytest.raises(MissingExtraError, match=r"pip install 'restora\[ray\]'"):
        run_batch(tmp_path / "in", tmp_path / "out", OPTIONS, engine="ray", workers=1)
