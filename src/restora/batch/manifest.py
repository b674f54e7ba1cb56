"""The batch manifest: one JSON line per finished image, the single record of a batch.

``OUT_DIR/.restora/manifest.jsonl`` is append-only and written by the driver process alone
(workers return results; they never touch it), whichever engine ran. Each line is fsynced
before the next image is counted, so a SIGKILL loses at most the line being written; a torn
last line is ignored on read and cut off before the next append. The latest line for an
input wins.

A ``done`` line is appended only after the output's atomic rename: an output without a
``done`` line (the driver was killed between the two) is simply made again on resume, and
the atomic rename replaces it whole.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

from restora.errors import ImageWriteError

MANIFEST_DIR = ".restora"
MANIFEST_NAME = "manifest.jsonl"
LOCK_NAME = "lock"

#: ``started``: handed to a worker (written before the work, so that a run killed with the
#: image in flight knows on resume that the output, if any, is its own); then ``done`` or
#: ``failed``.
Status = Literal["started", "done", "failed"]


@dataclass(frozen=True)
class Record:
    """One manifest line: what was done to one input, with which parameters, and how it went.

    input / output: POSIX paths relative to the input and output folders. size: bytes.
    sha256: of the input's bytes. params_hash: sha256 of the canonical JSON of ``params``.
    seconds: wall time of the worker on this image. error: the restora error message of a
    failure (``None`` when done). version: restora's. finished: UTC ISO-8601 time.
    """

    input: str
    size: int
    sha256: str
    params_hash: str
    params: dict[str, Any]
    status: Status
    output: str
    seconds: float
    error: str | None
    version: str
    finished: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def manifest_path(out_dir: str | Path) -> Path:
    """``OUT_DIR/.restora/manifest.jsonl``."""
    return Path(out_dir) / MANIFEST_DIR / MANIFEST_NAME


def params_hash(params: dict[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON (sorted keys, no spaces) of ``params``."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_manifest(path: str | Path) -> tuple[dict[str, Record], list[Record]]:
    """Read a manifest: (latest record per input, all records in file order).

    A missing file reads as empty. Lines that are not complete JSON records (a torn last line
    from a killed run) are skipped.
    """
    path = Path(path)
    records: list[Record] = []
    if not path.exists():
        return {}, records
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # torn last line
            try:
                records.append(Record.from_dict(json.loads(raw)))
            except (ValueError, TypeError):
                continue
    latest = {r.input: r for r in records}
    return latest, records


class ManifestWriter:
    """Appends records to the manifest, one fsynced line each; holds the folder's batch lock.

    Only one batch may write an output folder at a time: a second one raises
    :class:`ImageWriteError`. The lock (``flock``) goes away with the process, so a killed
    run never leaves the folder locked.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.path = manifest_path(out_dir)
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._lock = open(folder / LOCK_NAME, "a+b")  # noqa: SIM115 (held until close)
        except OSError as exc:
            raise ImageWriteError(folder, f"cannot create the batch manifest folder: {exc}") from None
        if not _try_lock(self._lock):
            self._lock.close()
            raise ImageWriteError(
                Path(out_dir),
                "another `restora batch` is writing to this output folder (its lock "
                f"{folder / LOCK_NAME} is held); wait for it to finish or choose another folder",
            )
        _cut_torn_tail(self.path)
        self._fh = open(self.path, "ab")  # noqa: SIM115

    def append(self, record: Record) -> None:
        """Write one line and fsync it before returning."""
        self._fh.write(record.to_json().encode("utf-8") + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()
        self._lock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _try_lock(fh: Any) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; one batch per folder is up to the user
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _cut_torn_tail(path: Path) -> None:
    """Truncate a manifest after its last newline (drops a line torn by a kill)."""
    if not path.exists():
        return
    with open(path, "r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        pos = size
        keep = 0
        while pos > 0:
            step = min(65536, pos)
            pos -= step
            fh.seek(pos)
            block = fh.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = pos + newline + 1
                break
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
