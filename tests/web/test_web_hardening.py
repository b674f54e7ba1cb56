"""The web server's per-job memory budget and its job list kept across a SIGKILL."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the 'web' extra (fastapi) is not installed")
pytest.importorskip("multipart", reason="the 'web' extra (python-multipart) is not installed")
httpx = pytest.importorskip("httpx", reason="httpx is needed by FastAPI's TestClient")

from fastapi.testclient import TestClient
from web_helpers import free_port, noisy_photo

from restora.web import ServerSettings, create_app
from restora.web.jobs import LOST, _size, job_memory

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def one_bit_png(side: int) -> bytes:
    """A valid 1-bit PNG of ``side`` x ``side`` black pixels: a few KB for tens of megapixels."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, "PNG")
    return buf.getvalue()


def _submit(client, name: str, data: bytes, **options):
    return client.post("/api/jobs", files=[("files", (name, data, "image/png"))],
                       data={k: str(v) for k, v in options.items()})


def _wait(client, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(f"/api/jobs/{job_id}").json()
        if state["finished"] is not None:
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.05)


def test_a_tiny_png_declaring_49_megapixels_is_refused_from_its_header():
    bomb = one_bit_png(7000)  # 49 MP, under the default 50 MP pixel limit
    assert len(bomb) < 10_000
    need = job_memory(7000, 7000, 1, 8)  # a 1-bit PNG decodes to one byte per pixel
    with TestClient(create_app(ServerSettings(max_memory_mb=256)), base_url="http://127.0.0.1") as c:
        start = time.perf_counter()
        r = _submit(c, "bomb.png", bomb)
        assert time.perf_counter() - start < 10  # nothing decoded, no worker taken
        assert r.status_code == 413, r.text
        detail = r.json()["detail"]
        assert detail.startswith("bomb.png: 7000x7000 pixels") and "--max-memory-mb" in detail
        assert f"about {_size(need)}" in detail
        assert c.app.state.jobs.memory.used == 0 and len(c.app.state.jobs) == 0
        assert not any(c.app.state.jobs.root.glob("0*/in-*"))  # the upload is gone


def test_a_job_that_does_not_fit_now_gets_503_and_retry_after():
    _, _, png = noisy_photo(64)
    with TestClient(create_app(ServerSettings(max_memory_mb=64, workers=1)),
                    base_url="http://127.0.0.1") as c:
        pool = c.app.state.jobs.memory
        pool.used = pool.budget - 1000  # jobs in progress hold all but 1000 bytes
        r = _submit(c, "photo.png", png, task="denoise", sigma=20)
        assert r.status_code == 503 and r.headers["Retry-After"], r.text
        assert "photo.png (64x64 pixels" in r.json()["detail"]
        assert "Try again" in r.json()["detail"]
        pool.used = 0
        r = _submit(c, "photo.png", png, task="denoise", sigma=20)
        assert r.status_code == 202, r.text
        assert pool.used == job_memory(64, 64, 3, 8)  # reserved while queued / running
        assert _wait(c, r.json()["id"])["status"] == "done"
        deadline = time.monotonic() + 5
        while pool.used and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pool.used == 0  # released when the job finished


def test_an_image_past_the_time_limit_stops_at_its_next_tile_and_writes_nothing():
    from restora.options import Execution

    _, _, png = noisy_photo(320)
    settings = ServerSettings(max_image_seconds=0.001, workers=1, execution=Execution(tile=136, overlap=16))
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as c:
        r = _submit(c, "slow.png", png, task="denoise", method="nlm", sigma=20)
        assert r.status_code == 202, r.text
        state = _wait(c, r.json()["id"])
        image = state["images"][0]
        assert image["status"] == "failed", state
        assert image["error"].startswith("slow.png: stopped after 0.001 s"), image["error"]
        assert "--max-image-seconds" in image["error"] and "nothing was written" in image["error"]
        assert not any(c.app.state.jobs.root.glob("*/out-*"))


def test_the_time_limit_is_a_positive_number_or_none():
    assert ServerSettings(max_image_seconds=None).max_image_seconds is None
    with pytest.raises(ValueError, match="max_image_seconds must be a positive number"):
        ServerSettings(max_image_seconds=0)


# --- the job list across a SIGKILL --------------------------------------------------------------


def _start(data_dir: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "RESTORA_SERVE_TOKEN"}
    server = subprocess.Popen(
        [sys.executable, "-m", "restora.cli", "serve", "--port", str(port), "--no-browser",
         "--workers", "1", "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError(f"server did not start: {server.stderr.read()}")
        time.sleep(0.1)


def test_a_sigkilled_server_restarted_answers_for_finished_jobs(tmp_path):
    _, _, png = noisy_photo(64)
    _, _, big = noisy_photo(512)
    data_dir = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _start(data_dir, port)
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            done = _submit(client, "holiday.png", png, task="denoise", sigma=20).json()["id"]
            state = _wait(client, done)
            assert state["status"] == "done"
            before = client.get(f"/api/jobs/{done}/results/0").content
            # one slow job and one queued behind it: both in progress at the kill
            running = [_submit(client, f"big-{i}.png", big, task="denoise", method="nlm",
                               sigma=20).json()["id"] for i in range(3)]
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
        server.stderr.close()
    uploads = list((data_dir / "jobs").glob("*/in-*"))
    assert uploads  # the killed server left the unfinished jobs' uploads behind

    server = _start(data_dir, port)
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            state = client.get(f"/api/jobs/{done}").json()
            assert state["status"] == "done" and state["images"][0]["name"] == "holiday.png"
            r = client.get(f"/api/jobs/{done}/results/0")
            assert r.status_code == 200 and r.content == before
            assert 'filename="holiday_restored.png"' in r.headers["content-disposition"]
            assert client.get(f"/api/jobs/{done}/results.zip").status_code == 200
            states = [client.get(f"/api/jobs/{job_id}").json() for job_id in running]
            lost = [s for s in states if s["status"] != "done"]
            assert lost  # the last one was still queued at the kill
            for state in lost:
                assert state["status"] == "failed" and state["finished"] is not None
                assert state["images"][0]["error"] == LOST
            assert not list((data_dir / "jobs").glob("*/in-*"))  # no upload left behind
            # the server still works, and its new job does not reuse an old folder
            fresh = _submit(client, "again.png", png, task="denoise", sigma=20).json()["id"]
            assert _wait(client, fresh)["status"] == "done"
            assert client.get(f"/api/jobs/{done}").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()


def test_a_second_server_on_the_same_data_folder_is_refused(tmp_path):
    from restora.web.jobs import JobManager
    from restora.web.store import DataFolderBusyError

    first = JobManager(ServerSettings(data_dir=tmp_path))
    try:
        with pytest.raises(DataFolderBusyError, match="uses the data folder"):
            JobManager(ServerSettings(data_dir=tmp_path))
        fallback = JobManager(ServerSettings(data_dir=tmp_path, data_dir_fallback=True))
        assert fallback.store is None and "temporary folder" in (fallback.notice or "")
        fallback.close()
    finally:
        first.close()
