"""The web server's job list on disk: one SQLite file (stdlib ``sqlite3``) in the data folder.

Each job is one row: its id, folder, times and a JSON document with what the API reports
(options, images, result files). Rows are written when a job is queued, when an image
finishes and when the job finishes, so a server that is killed (SIGKILL, power loss) and
started again on the same data folder still answers for its finished jobs; jobs that were
queued or running are reported as lost (their uploads are deleted). One server at a time
uses a data folder: it holds an exclusive ``flock`` on ``lock`` while it runs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from restora.errors import RestoraError

DB_NAME = "jobs.sqlite3"
LOCK_NAME = "lock"


class DataFolderBusyError(RestoraError):
    """Another running server uses the data folder."""


def default_data_dir() -> Path:
    """Where ``restora serve`` keeps jobs across restarts: the user's state folder
    (``$XDG_STATE_HOME/restora/serve``, ``~/.local/state/restora/serve`` on Linux)."""
    try:
        import platformdirs

        return Path(platformdirs.user_state_dir("restora", appauthor=False)) / "serve"
    except ImportError:  # pragma: no cover - platformdirs ships with the web extra's deps
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(base) / "restora" / "serve"


class JobStore:
    """The SQLite job table of one data folder (thread-safe; one connection, one lock)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        self._lock_fh = _take_lock(folder / LOCK_NAME)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(folder / DB_NAME, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, folder TEXT NOT NULL, "
            "created REAL NOT NULL, finished REAL, doc TEXT NOT NULL)")

    def save(self, job_id: str, folder: str, created: float, finished: float | None,
             doc: dict[str, Any]) -> None:
        text = json.dumps(doc)
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, folder, created, finished, doc) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET finished = excluded.finished, doc = excluded.doc",
                (job_id, folder, created, finished, text))

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def rows(self) -> list[tuple[str, str, float, float | None, dict[str, Any]]]:
        with self._lock:
            found = self._db.execute(
                "SELECT id, folder, created, finished, doc FROM jobs ORDER BY created").fetchall()
        out = []
        for job_id, folder, created, finished, doc in found:
            try:
                out.append((job_id, folder, created, finished, json.loads(doc)))
            except ValueError:
                continue  # a damaged row: forget it (its folder is removed as an orphan)
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._lock_fh.close()


def _take_lock(path: Path) -> Any:
    import fcntl

    fh = open(path, "a+")  # noqa: SIM115  (held open while the server runs)
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        owner = fh.read().strip() or "?"
        fh.close()
        raise DataFolderBusyError(
            f"another restora serve (pid {owner}) uses the data folder {path.parent}; stop it "
            "or pass another --data-dir") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh
