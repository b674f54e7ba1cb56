"""Kill a running batch with SIGKILL, resume it, and check nothing is lost or done twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restora.batch import manifest_path, read_manifest, run_batch
from tests.batch.batch_data import OPTIONS, make_images

N_IMAGES = 200


def _done_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b'"status":"done"')
    except FileNotFoundError:
        return 0


def _tagged_processes(tag: str) -> list[int]:
    """Live processes whose environment holds ``RESTORA_TEST_TAG=tag`` (Linux /proc)."""
    found = []
    needle = f"RESTORA_TEST_TAG={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_mid_run_then_resume_completes_every_image_once(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_images(src, N_IMAGES, size=48)
    manifest = manifest_path(out)
    cmd = [sys.executable, "-m", "restora.cli", "batch", str(src), str(out), "--method", "nlm",
           "--sigma", "10", "--workers", "2"]
    tag = f"restora-batch-test-{os.getpid()}-{time.time_ns()}"
    env = {**os.environ, "RESTORA_TEST_TAG": tag}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while _done_lines(manifest) < 15 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _done_lines(manifest)
    assert proc.returncode == -signal.SIGKILL, "the batch ended before it could be killed"
    assert 0 < done_before < N_IMAGES
    # Orphaned workers finish their image, notice the driver is gone, and exit.
    deadline = time.monotonic() + 10
    while _tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _tagged_processes(tag), "worker processes outlived the killed driver"

    # What a kill can leave: a torn manifest line and a temp file of an unfinished output.
    with open(manifest, "ab") as fh:
        fh.write(b'{"input":"img199.png","status":"do')
    (out / ".img150.png.abcd1234.tmp").write_bytes(b"partial")

    summary = run_batch(src, out, OPTIONS, workers=2)
    assert summary.exit_code == 0 and summary.failed == 0
    assert summary.skipped == done_before
    assert summary.done == N_IMAGES - done_before

    latest, records = read_manifest(manifest)
    done = Counter(r.input for r in records if r.status == "done")
    assert len(done) == N_IMAGES and max(done.values()) == 1, "an image was recorded done twice"
    assert all(r.status == "done" for r in latest.values())
    # The torn line was cut off: every line of the file parses.
    lines = manifest.read_bytes().splitlines()
    assert len(lines) == len(records) and all(json.loads(line) for line in lines)
    assert not [p for p in out.rglob("*.tmp")], "temp files left behind"
    outputs = sorted(p.name for p in out.glob("*.png"))
    assert outputs == sorted(p.name for p in src.glob("*.png"))
    for name in outputs[::7]:
        with Image.open(out / name) as im:
            im.load()
            assert im.size == (48, 48)

    # A third run has nothing left to do.
    again = run_batch(src, out, OPTIONS, workers=1)
    assert (again.done, again.skipped, again.failed) == (0, N_IMAGES, 0)


def test_outputs_match_restore_file(tmp_path):
    """The batch runs the same pipeline as ``restora restore`` (byte-identical outputs)."""
    from restora.api import restore_file

    src, out = tmp_path / "in", tmp_path / "out"
    paths = make_images(src, 3)
    assert run_batch(src, out, OPTIONS, workers=1).done == 3
    for path in paths:
        single = tmp_path / f"single_{path.name}"
        restore_file(path, single, **OPTIONS)
        assert (out / path.name).read_bytes() == single.read_bytes()
        assert not np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(single)))
