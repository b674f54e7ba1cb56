"""File helpers: atomic writes (temp file in the same folder + rename: never a half-written
output) and content hashes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from restora.errors import ImageWriteError, RestoraError


def _default_mode() -> int:
    """0o666 minus the process umask (what ``open(..., 'w')`` would create)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: Path, encode: Callable[[IO[bytes]], None]) -> Path:
    """Write a file atomically: ``encode(fh)`` fills a temp file beside ``path``, then rename.

    On any failure the temp file is removed and :class:`ImageWriteError` raised; ``path`` is
    either its old self or the complete new file, never a partial one. Keeps the mode of a
    file it replaces.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ImageWriteError(path, f"cannot create the output file: {exc}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with open(tmp, "wb") as fh:
            encode(fh)
            fh.flush()
            os.fsync(fh.fileno())
        mode = path.stat().st_mode & 0o7777 if path.exists() else _default_mode()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        return path
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, RestoraError) or not isinstance(exc, Exception):
            raise
        detail = " ".join(str(exc).split())
        raise ImageWriteError(
            path, f"encoding failed, nothing was written ({type(exc).__name__}: {detail})"
        ) from exc


def atomic_write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically (reports, manifests)."""
    return atomic_write(Path(path), lambda fh: fh.write(text.encode("utf-8")))


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
