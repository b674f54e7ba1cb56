"""The web app's multi-frame jobs: several uploads of one scene -> one result, through the
same job path (JobManager -> Restorer.run_frames_file) as ``restora fuse`` / ``burst``."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the 'web' extra (fastapi) is not installed")
pytest.importorskip("multipart", reason="the 'web' extra (python-multipart) is not installed")
pytest.importorskip("httpx", reason="httpx is needed by FastAPI's TestClient")

from fastapi.testclient import TestClient
from frames_helpers import clean_image, linear_scene, psnr
from PIL import Image

from restora.frames.synthetic import brackets, burst
from restora.web import ServerSettings, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _png(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.clip(frame, 0, 1) * 255).round().astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def client():
    settings = ServerSettings(max_upload_mb=4.0, max_pixels=1_000_000, workers=1)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as c:
        yield c


def _submit(client, frames, **options):
    files = [("files", (f"f{k}.png", _png(f), "image/png")) for k, f in enumerate(frames)]
    return client.post("/api/jobs", files=files, data={k: str(v) for k, v in options.items()})


def _wait(client, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while (state := client.get(f"/api/jobs/{job_id}").json())["finished"] is None:
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    return state


def test_a_fuse_job_has_one_result_from_all_uploads(client):
    frames = brackets(linear_scene(size=96, stops=6), [0.25, 1.0, 4.0])
    response = _submit(client, frames, merge="fuse", times="1/4,1,4", tonemap="gamma")
    assert response.status_code == 202, response.text
    job = _wait(client, response.json()["id"])
    assert job["frames"] == ["f0.png", "f1.png", "f2.png"] and len(job["images"]) == 1
    image = job["images"][0]
    assert image["status"] == "done", image
    assert "debevec" in image["decision"] and image["output_name"] == "f0_fuse.png"
    assert job["options"]["merge"] == "fuse" and job["options"]["times"] == [0.25, 1.0, 4.0]
    result = client.get(f"/api/jobs/{job['id']}/results/0")
    assert result.status_code == 200
    assert Image.open(io.BytesIO(result.content)).size == (96, 96)


def test_a_burst_job_merges_and_denoises(client):
    clean, frames, _ = burst(clean_image(size=160), 4, size=(96, 96), max_shift=3, sigma=20,
                             rng=np.random.default_rng(7))
    job = _wait(client, _submit(client, frames, merge="burst", denoise="false").json()["id"])
    assert job["images"][0]["status"] == "done", job
    out = client.get(f"/api/jobs/{job['id']}/results/0").content
    merged = np.asarray(Image.open(io.BytesIO(out)), np.float32) / 255
    assert psnr(merged, clean) > psnr(frames[0], clean) + 3


@pytest.mark.parametrize(("frames", "options", "message"), [
    (1, {"merge": "burst"}, "needs at least 2 photos"),
    ("sizes", {"merge": "fuse"}, "f1.png: 48x40 pixels, but f0.png is 64x64"),
    (2, {"times": "1,2"}, "times apply to jobs that merge"),
    (2, {"merge": "fuse", "reference": "4"}, "reference 4"),
    (2, {"merge": "blend"}, "merge must be one of fuse"),
    (2, {"merge": "fuse", "times": "soon"}, "times must be exposure times"),
    (2, {"merge": "fuse", "hdr": "/tmp/x.hdr"}, "unknown option(s) hdr"),
])
def test_bad_multi_frame_jobs_are_refused_at_once(client, frames, options, message):
    image = clean_image(size=64)
    uploads = [image, image[:40, :48]] if frames == "sizes" else [image] * frames
    response = _submit(client, uploads, **options)
    assert response.status_code in (400, 422), response.text
    assert message in response.json()["detail"], response.json()
