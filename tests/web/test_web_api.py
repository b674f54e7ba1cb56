"""HTTP API of ``restora serve`` through FastAPI's TestClient (no network, no browser)."""

from __future__ import annotations

import io
import threading
import time
import zipfile

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the 'web' extra (fastapi) is not installed")
pytest.importorskip("multipart", reason="the 'web' extra (python-multipart) is not installed")
pytest.importorskip("httpx", reason="httpx is needed by FastAPI's TestClient")

from fastapi.testclient import TestClient
from web_helpers import decode, encode, noisy_photo, png_bomb, psnr

from restora.errors import InvalidParameterError
from restora.web import ServerSettings, create_app
from restora.web.jobs import JobManager, display_name, output_name

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BASE = "http://127.0.0.1"


def make_client(**settings: object) -> TestClient:
    return TestClient(create_app(ServerSettings(**settings)), base_url=BASE)


@pytest.fixture(scope="module")
def client():
    with make_client(max_upload_mb=1.0, max_pixels=4_000_000, workers=1) as c:
        yield c


@pytest.fixture(scope="module")
def photo():
    return noisy_photo()


def wait(client: TestClient, job_id: str, timeout: float = 30.0, headers=None) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if state["finished"] is not None:
            return state
        assert time.monotonic() < deadline, f"job did not finish: {state}"
        time.sleep(0.05)


def submit(client: TestClient, *files: tuple[str, bytes], headers=None, **options):
    return client.post("/api/jobs", files=[("files", (n, d, "application/octet-stream")) for n, d in files],
                       data={k: str(v) for k, v in options.items()}, headers=headers)


# --- happy path -----------------------------------------------------------------------------


def test_automatic_mode_denoises_and_explains(client, photo):
    clean, noisy, png = photo
    r = submit(client, ("holiday photo.png", png))
    assert r.status_code == 202, r.text
    job = r.json()
    assert len(job["id"]) >= 24 and job["status"] in ("queued", "running")
    state = wait(client, job["id"])
    image = state["images"][0]
    assert state["status"] == "done" and image["status"] == "done" and image["progress"] == 1.0
    # the noise estimate finds the noise we added (sigma 20, clipped at 0/255)
    assert 16 < image["detected"]["noise_sigma"] < 22
    assert image["method"] == "denoise (denoise_color)"  # the shipped colour denoiser
    assert "Estimated noise level sigma" in image["decision"]
    assert "denoised with denoise_color" in image["decision"]
    r = client.get(f"/api/jobs/{job['id']}/results/0")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"] == "attachment; filename*=utf-8''holiday%20photo_restored.png"
    restored = decode(r.content)
    assert restored.shape == clean.shape
    assert psnr(restored, clean) > psnr(noisy, clean) + 6  # measured 22.5 -> 31.1 dB


def test_automatic_mode_keeps_a_clean_photo(client, photo):
    clean, _, _ = photo
    state = wait(client, submit(client, ("clean.png", encode(clean, "PNG"))).json()["id"])
    image = state["images"][0]
    assert image["detected"]["noise_sigma"] < 3 and image["method"] == "nothing"
    assert "kept as is" in image["decision"]
    restored = decode(client.get(f"/api/jobs/{state['id']}/results/0").content)
    np.testing.assert_array_equal(restored, clean)  # PNG in, PNG out, untouched


def test_advanced_options_and_zip_of_several(client, photo):
    clean, _, png = photo
    small = clean[:40, :50]
    r = submit(client, ("a.png", png), ("b.jpg", encode(small, "JPEG", quality=95)),
               task="upscale", method="bicubic", scale=2, format="jpg")
    assert r.status_code == 202, r.text
    state = wait(client, r.json()["id"])
    assert [im["status"] for im in state["images"]] == ["done", "done"]
    assert state["images"][1]["output_name"] == "b_restored.jpg"
    assert "Ran bicubic" in state["images"][1]["decision"]
    r = client.get(f"/api/jobs/{state['id']}/results.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        assert archive.namelist() == ["a_restored.jpg", "b_restored.jpg"]
        assert decode(archive.read("a_restored.jpg")).shape == (256, 256, 3)
        assert decode(archive.read("b_restored.jpg")).shape == (80, 100, 3)


def test_explicit_sigma_denoise(client, photo):
    clean, noisy, png = photo
    state = wait(client, submit(client, ("n.png", png), task="denoise", method="tv", sigma=20).json()["id"])
    image = state["images"][0]
    assert image["method"] == "tv" and image["detected"] == {"noise_sigma": 20.0}
    restored = decode(client.get(f"/api/jobs/{state['id']}/results/0").content)
    assert psnr(restored, clean) > psnr(noisy, clean) + 2


def test_events_stream_ends_with_done(client, photo):
    job_id = submit(client, ("e.png", photo[2])).json()["id"]
    with client.stream("GET", f"/api/jobs/{job_id}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        body = r.read().decode()
    events = [block for block in body.split("\n\n") if block.startswith("event:")]
    assert events[-1].startswith("event: done") and '"status": "done"' in events[-1]
    assert all(e.startswith(("event: progress", "event: done")) for e in events)


def test_methods_and_health(client):
    info = client.get("/api/methods").json()
    names = {m["name"]: m for m in info["methods"]}
    assert {"nlm", "bicubic", "wiener", "pnp", "diffpir"} <= set(names)
    assert names["nlm"]["needs_sigma"] and names["nlm"]["task"] == "denoise"
    assert names["pnp"]["default"] and names["pnp"]["tasks"] == ["deblur", "upscale", "inpaint",
                                                                  "demosaic"]
    assert info["defaults"]["denoise"] == {"gray": "denoise_gray", "colour": "denoise_color"}
    assert info["defaults"]["upscale x2"]["colour"] == "upscale_x2"
    assert info["defaults"]["deblur"]["colour"] == "pnp + denoise_color"
    assert info["tasks"][0] == "auto" and "inpaint" in info["tasks"]
    assert info["formats"][0] == "same" and "upscale_real_x4" in info["models"]
    assert info["limits"]["max_upload_mb"] == 1.0 and info["limits"]["max_pixels"] == 4_000_000
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["workers"] == 1


def test_page_and_static_files_are_local(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="file-input"' in page.text
    for ref in ("/static/app.js", "/static/style.css"):
        assert ref in page.text and client.get(ref).status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from a CDN
    assert client.get("/docs").status_code == 404  # FastAPI's doc page would load a CDN
    assert client.get("/api/openapi.json").json()["paths"]["/api/jobs"]["post"]


def test_delete_job(client, photo):
    job_id = submit(client, ("d.png", photo[2])).json()["id"]
    wait(client, job_id)
    assert client.delete(f"/api/jobs/{job_id}").status_code == 204
    r = client.get(f"/api/jobs/{job_id}")
    assert r.status_code == 404 and "no such job" in r.json()["detail"]


# --- bad input: 4xx with a clear message, and the server keeps working -------------------------


def test_bad_inputs_are_4xx_and_server_survives(client, photo):
    _, noisy, png = photo
    jpeg = encode(noisy, "JPEG", quality=90)
    cases = [
        (("notes.txt", b"just some text, not a picture"), 400, "notes.txt: not an image"),
        (("cut.jpg", jpeg[: len(jpeg) // 2]), 400, "cut.jpg: truncated or corrupt JPEG"),
        (("bomb.png", png_bomb()), 413, "bomb.png"),
        (("empty.png", b""), 400, "empty.png"),
        (("anim.gif", b"GIF89a" + b"\0" * 64), 415, "GIF"),
    ]
    for file, status, message in cases:
        r = submit(client, file)
        assert r.status_code == status, (file[0], r.text)
        assert message in r.json()["detail"], r.json()
    bomb = submit(client, ("bomb.png", png_bomb())).json()["detail"]
    assert "10000000000" in bomb.replace(",", "").replace("_", "") or "100000x100000" in bomb
    # a follow-up good request still works
    state = wait(client, submit(client, ("good.png", png)).json()["id"])
    assert state["status"] == "done"


def test_upload_over_the_limit_is_413(client):
    big = np.random.default_rng(1).integers(0, 256, 1_200_000, dtype=np.uint8).tobytes()
    r = submit(client, ("big.png", big))
    assert r.status_code == 413
    assert "upload too large" in r.json()["detail"] and "1 MiB" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        yield b"--xx\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n\r\n"
        for _ in range(40):
            yield b"\0" * 65536
    r = client.post("/api/jobs", content=chunks(), headers={"content-type": "multipart/form-data; boundary=xx"})
    assert r.status_code == 413 and "upload too large" in r.json()["detail"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"task": "sharpen"}, "task must be one of auto, denoise"),
        ({"task": "denoise", "method": "nope"}, "nope"),
        ({"task": "denoise", "method": "bicubic"}, "does upscale, not 'denoise'"),
        ({"task": "deblur", "kernel": "/etc/passwd"}, "kernel must be 'gauss:SIGMA'"),
        ({"model": "/etc/passwd"}, "model must be the name of a shipped weight set"),
        ({"task": "denoise", "sigma": -3}, "sigma must be a number in [0, 255]"),
        ({"task": "denoise", "sigma": "lots"}, "sigma"),
        ({"scale": 100}, "scale must be an integer in 1..16"),
        ({"format": "gif"}, "format must be one of same, png, jpg"),
        ({"device": "cuda"}, "device"),
    ],
)
def test_bad_options_are_4xx(client, photo, options, message):
    r = submit(client, ("x.png", photo[2]), **options)
    assert 400 <= r.status_code < 500, r.text
    assert message in r.json()["detail"]


def test_no_files_and_unknown_job(client):
    r = client.post("/api/jobs", data={"task": "auto"})
    assert r.status_code == 422 and "files" in r.json()["detail"]
    assert client.get("/api/jobs/nonexistent").status_code == 404
    assert client.get("/api/jobs/nonexistent/results/0").status_code == 404
    assert client.get("/api/jobs/nonexistent/results.zip").status_code == 404
    r = client.get("/api/jobs/nonexistent/results/x")
    assert r.status_code == 422 and "index" in r.json()["detail"]


def test_client_file_names_never_reach_the_filesystem(client, photo):
    r = submit(client, ("../../../../tmp/evil.png", photo[2]), ("..\\..\\win.png", photo[2]))
    state = wait(client, r.json()["id"])
    assert [im["name"] for im in state["images"]] == ["evil.png", "win.png"]
    manager = client.app.state.jobs
    stored = sorted(p.name for p in manager.get(state["id"]).folder.iterdir())
    assert stored == ["in-0", "in-1", "out-0.png", "out-1.png"]
    assert display_name("", 2) == "image-3" and display_name("a\0b<>.png", 0) == "a_b_.png"
    assert output_name("x.tar.jpg", ".webp") == "x.tar_restored.webp"


# --- limits of the worker pool and storage -----------------------------------------------------


def test_full_queue_answers_503(photo, monkeypatch):
    release = threading.Event()
    original = JobManager._run_image

    def slow(self, job, image, restorer):
        release.wait(10)
        original(self, job, image, restorer)

    monkeypatch.setattr(JobManager, "_run_image", slow)
    with make_client(workers=1, queue_size=1) as c:
        first = submit(c, ("1.png", photo[2]))
        deadline = time.monotonic() + 5
        while c.app.state.jobs.queued and time.monotonic() < deadline:
            time.sleep(0.02)  # the worker takes the first job; it waits on `release`
        second = submit(c, ("2.png", photo[2]))
        third = submit(c, ("3.png", photo[2]))
        assert (first.status_code, second.status_code, third.status_code) == (202, 202, 503)
        assert "server is busy" in third.json()["detail"] and third.headers["retry-after"] == "5"
        release.set()
        assert wait(c, second.json()["id"])["status"] == "done"


def test_results_expire_and_files_are_deleted(photo):
    with make_client(result_ttl=60) as c:
        manager = c.app.state.jobs
        state = wait(c, submit(c, ("t.png", photo[2])).json()["id"])
        folder = manager.get(state["id"]).folder
        assert folder.is_dir() and state["expires"] == pytest.approx(state["finished"] + 60)
        assert manager.expire(now=time.time() + 30) == 0
        assert manager.expire(now=time.time() + 61) == 1
        assert not folder.exists()
        assert c.get(f"/api/jobs/{state['id']}").status_code == 404
        root = manager.root
    assert not root.exists()  # shutting the app down deletes the private folder


def test_storage_budget_evicts_oldest_finished_job(photo):
    png = photo[2]  # ~45 KiB in, ~25 KiB out
    with make_client(max_results_mb=0.1) as c:
        first = wait(c, submit(c, ("1.png", png)).json()["id"])
        second = wait(c, submit(c, ("2.png", png)).json()["id"])
        assert c.get(f"/api/jobs/{first['id']}").status_code == 404  # evicted to make room
        assert c.get(f"/api/jobs/{second['id']}").status_code == 200


# --- access: loopback by default, token otherwise -----------------------------------------------


def test_non_loopback_host_needs_a_token():
    with pytest.raises(InvalidParameterError, match="refusing to listen on '0.0.0.0' without a token"):
        ServerSettings(host="0.0.0.0")
    with pytest.raises(InvalidParameterError, match="too short"):
        ServerSettings(host="0.0.0.0", token="abc")
    assert ServerSettings(host="0.0.0.0", token="s3cret-token-123").token
    assert ServerSettings(host="localhost").host == "localhost"


def test_cli_refuses_non_loopback_without_token(capsys, monkeypatch):
    from restora.cli import main

    monkeypatch.delenv("RESTORA_SERVE_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--no-browser"]) == 2
    assert "refusing to listen on '0.0.0.0' without a token" in capsys.readouterr().err


def test_token_is_required_when_set(photo):
    token = "correct-horse-battery-staple"
    good = {"Authorization": f"Bearer {token}"}
    with make_client(host="0.0.0.0", token=token) as c:
        for path in ("/api/methods", "/api/jobs/x"):
            r = c.get(path)
            assert r.status_code == 401 and "missing or wrong token" in r.json()["detail"]
            assert c.get(path, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        assert submit(c, ("a.png", photo[2])).status_code == 401
        assert c.get("/api/health").status_code == 200  # liveness needs no token
        assert c.get("/").status_code == 200  # the page itself holds no data
        r = submit(c, ("a.png", photo[2]), headers=good)
        assert r.status_code == 202
        assert wait(c, r.json()["id"], headers=good)["status"] == "done"
        assert c.get(f"/api/jobs/{r.json()['id']}/results/0").status_code == 401
        assert c.get(f"/api/jobs/{r.json()['id']}/results/0", headers=good).status_code == 200


def test_foreign_host_and_cross_origin_posts_are_refused(client, photo):
    r = client.get("/api/health", headers={"host": "evil.example:8000"})
    assert r.status_code == 400 and "unexpected Host header" in r.json()["detail"]
    for origin in ("http://evil.example", "http://127.0.0.1:9999", "null"):
        r = submit(client, ("a.png", photo[2]), headers={"origin": origin})
        assert r.status_code == 403 and "cross-origin" in r.json()["detail"]
    r = submit(client, ("a.png", photo[2]), headers={"origin": BASE})
    assert r.status_code == 202


def test_failures_at_run_time_are_reported_on_the_image(client, photo):
    """Options that depend on the image (here: upscaling needs a scale) fail the image with
    the runner's message, like `restora restore` does."""
    state = wait(client, submit(client, ("x.png", photo[2]), task="upscale").json()["id"])
    image = state["images"][0]
    assert image["status"] == "failed" and "give scale" in image["error"]
    state = wait(client, submit(client, ("x.png", photo[2]), task="deblur").json()["id"])
    assert "needs the blur kernel" in state["images"][0]["error"]


def test_cli_serve_passes_the_settings(monkeypatch, capsys):
    import uvicorn

    from restora.cli import main

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.setenv("RESTORA_SERVE_TOKEN", "token-from-the-environment")
    assert main(["serve", "--host", "0.0.0.0", "--port", "8123", "--no-browser", "--workers", "3",
                 "--max-upload-mb", "5", "--max-pixels", "1000000", "--result-ttl", "60",
                 "--device", "cpu", "--threads", "1"]) == 0
    settings = seen["app"].state.settings
    assert (seen["host"], seen["port"]) == ("0.0.0.0", 8123)
    assert (settings.token, settings.workers, settings.max_upload_mb, settings.max_pixels,
            settings.result_ttl) == ("token-from-the-environment", 3, 5.0, 1_000_000, 60.0)
    assert (settings.execution.device, settings.execution.threads) == ("cpu", 1)
    err = capsys.readouterr().err
    assert "serving on http://127.0.0.1:8123/" in err and "#token=" in err


@pytest.mark.parametrize("failure", [RuntimeError("can't start new thread"), MemoryError()])
def test_out_of_threads_or_memory_is_503_not_500(photo, monkeypatch, failure):
    def fail(self, *args, **kwargs):
        raise failure

    monkeypatch.setattr(JobManager, "submit", fail)
    app = create_app(ServerSettings())
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        reply = submit(c, ("1.png", photo[2]))
    assert reply.status_code == 503 and reply.headers["retry-after"] == "10"
    assert "short of memory or threads" in reply.json()["detail"]
