"""A server killed with SIGKILL leaves its uploads behind; the next server removes them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile

from restora.web.jobs import OWNER_FILE, TEMP_PREFIX, JobManager
from restora.web.settings import ServerSettings


def _folder(parent, name: str, pid: int):
    folder = parent / f"{TEMP_PREFIX}{name}"
    (folder / "job1").mkdir(parents=True)
    (folder / "job1" / "upload.png").write_bytes(b"a user's photo")
    (folder / OWNER_FILE).write_text(f"{pid}\n")
    return folder


def test_new_server_removes_folders_of_killed_servers_only(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    dead = _folder(tmp_path, "dead", killed.pid)
    alive = _folder(tmp_path, "alive", os.getppid())  # a server still running
    unknown = tmp_path / f"{TEMP_PREFIX}noowner"  # not ours to judge: left alone
    unknown.mkdir()
    manager = JobManager(ServerSettings(workers=1))
    try:
        assert not dead.exists()
        assert alive.exists() and unknown.exists()
        assert manager.removed_stale == [dead]
        assert (manager.root / OWNER_FILE).read_text().strip() == str(os.getpid())
    finally:
        manager.close()
    assert not manager.root.exists()
