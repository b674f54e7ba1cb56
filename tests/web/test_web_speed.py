"""Web jobs report megapixels per second and the time left, as the result card shows them."""

from __future__ import annotations

import io
import time

import pytest

pytest.importorskip("fastapi", reason="the 'web' extra (fastapi) is not installed")

from web_helpers import noisy_photo

import restora.run
from restora.options import Execution, Request
from restora.web.jobs import JobManager
from restora.web.settings import ServerSettings


def test_a_running_image_reports_mp_per_s_and_eta_then_its_overall_speed(monkeypatch):
    def slow(info, tile, **kwargs):
        time.sleep(0.2)
        return tile

    monkeypatch.setattr(restora.run, "run_method", slow)
    _, _, png = noisy_photo(size=160)
    settings = ServerSettings(workers=1, execution=Execution(tile=140))  # 4 tiles
    manager = JobManager(settings)
    try:
        job = manager.submit([("a.png", io.BytesIO(png))],
                             Request.from_mapping({"task": "denoise", "method": "nlm", "sigma": 10}))
        running = []
        deadline = time.monotonic() + 60
        while job.finished is None:
            assert time.monotonic() < deadline
            image = job.to_dict(settings)["images"][0]
            if image["status"] == "running" and image["eta_s"] is not None:
                running.append(image)
            time.sleep(0.02)
        final = job.to_dict(settings)["images"][0]
    finally:
        manager.close()
    assert running, "no progress report with a speed while the image ran"
    assert all(r["mp_per_s"] > 0 and r["eta_s"] >= 0 for r in running)
    assert running[0]["eta_s"] > running[-1]["eta_s"] or len(running) == 1
    assert final["status"] == "done" and final["eta_s"] is None
    assert abs(final["mp_per_s"] - 160 * 160 / 1e6 / final["seconds"]) < 1e-3
