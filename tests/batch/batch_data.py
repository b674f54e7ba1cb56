"""Tiny image folders made in code for the batch tests (good, corrupt and unsupported files)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

#: Fast, deterministic restore options used by every batch test.
OPTIONS = {"method": "nlm", "sigma": 10.0}


def make_images(folder: Path, count: int, *, size: int = 32, prefix: str = "img", seed: int = 0) -> list[Path]:
    """``count`` noisy RGB ramps (sigma 10) as PNGs of ``size`` x ``size`` named ``<prefix>NNN.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ramp = np.linspace(40, 215, size)
    paths = []
    for i in range(count):
        path = folder / f"{prefix}{i:03d}.png"
        clean = np.stack([ramp[None, :] + 0 * ramp[:, None], ramp[:, None] + 0 * ramp[None, :],
                          np.full((size, size), 20.0 + i % 200)], axis=-1)
        noisy = np.clip(np.rint(clean + rng.normal(0, 10, clean.shape)), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(path)
        paths.append(path)
    return paths


def jpeg_bytes(size: int = 32) -> bytes:
    rng = np.random.default_rng(5)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_bad_files(folder: Path) -> dict[str, str]:
    """Five unreadable files with readable names -> a word their error message must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.jpg").write_bytes(b"")
    data = jpeg_bytes(64)
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "text.png").write_text("this is not a picture\n")
    (folder / "random.jpg").write_bytes(np.random.default_rng(3).integers(0, 256, 500, dtype=np.uint8).tobytes())
    buf = io.BytesIO()
    Image.new("P", (8, 8)).save(buf, "GIF")
    (folder / "anim.png").write_bytes(buf.getvalue())
    return {"empty.jpg": "empty", "truncated.jpg": "truncated", "text.png": "not an image",
            "random.jpg": "not an image", "anim.png": "GIF"}


def tree_state(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``folder`` (relative path -> (mtime_ns, sha256)); {} when absent."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*")) if p.is_file()
    }
