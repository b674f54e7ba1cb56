"""Meter: megapixels per second and time left from the runner's progress(done, total)."""

from __future__ import annotations

import numpy as np

import restora.run
from restora.options import Choice, Execution, Params
from restora.pipeline.progress import Meter, format_eta
from restora.run import Restorer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_speed_and_eta_from_done_and_total():
    clock = Clock()
    meter = Meter(4.0, clock=clock)
    first = meter(0, 8)
    assert first.fraction == 0 and first.megapixels_per_s is None and first.eta_s is None
    clock.now += 2.0
    speed = meter(2, 8)  # a quarter of 4 MP in 2 s
    assert speed.fraction == 0.25 and speed.elapsed == 2.0
    assert speed.megapixels_per_s == 0.5 and speed.eta_s == 6.0
    assert speed.describe() == "0.50 MP/s, ETA 0:06"
    clock.now += 6.0
    done = meter(8, 8)
    assert done.megapixels_per_s == 0.5 and done.eta_s == 0.0 and meter.last is done
    unknown = Meter(None, clock=clock)
    clock.now += 1.0
    assert unknown(1, 2).describe() == "ETA 0:01"  # no size: time left only


def test_format_eta():
    assert [format_eta(s) for s in (0, 59.4, 75.2, 3725)] == ["0:00", "0:59", "1:15", "1:02:05"]


def test_the_runner_reports_every_tile_to_the_meter(monkeypatch):
    clock = Clock()

    def slow(info, tile, **kwargs):  # every tile takes 0.5 s of the fake clock
        clock.now += 0.5
        return tile

    monkeypatch.setattr(restora.run, "run_method", slow)
    image = np.random.default_rng(0).random((200, 300, 3), dtype=np.float32)
    meter = Meter(image.shape[0] * image.shape[1] / 1e6, clock=clock)
    speeds = []
    Restorer(Choice(task="denoise", method="nlm"), Execution(tile=150, overlap=8)).run(
        image, Params(sigma=10), progress=lambda d, t: speeds.append(meter(d, t)))
    assert [s.done for s in speeds] == list(range(1, len(speeds) + 1)) and len(speeds) > 4
    assert speeds[-1].fraction == 1 and speeds[-1].eta_s == 0
    expected = 0.06 / (0.5 * len(speeds))  # 0.06 MP in len(speeds) tiles of 0.5 s
    assert abs(speeds[-1].megapixels_per_s - expected) < 1e-9
    assert all(s.eta_s > 0 for s in speeds[:-1])
