"""Load test of ``restora serve``: N concurrent small jobs from a loopback client.

Starts ``restora serve`` in a subprocess on a free loopback port, submits ``--jobs`` jobs
(one noisy astronaut crop each) with at most ``--concurrency`` requests in flight (httpx
async), polls each job to completion, downloads and decodes every result, and reports
jobs/s and the server's peak resident memory (RSS, sampled every 20 ms with psutil).
Every job must finish "done" and every result must decode, or the script exits 1.

    .venv/bin/python benchmarks/web_load.py --jobs 50 --concurrency 50 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Self

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_image(size: int, seed: int) -> bytes:
    from PIL import Image
    from skimage import data

    clean = data.astronaut()[60:60 + size, 180:180 + size].astype(np.float64)
    noisy = clean + np.random.default_rng(seed).normal(0, 20, clean.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


class PeakRSS:
    """Samples the resident memory of a process and its children in a thread."""

    def __init__(self, pid: int, period: float = 0.02) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.period = period
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            self._stop.wait(self.period)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def one_job(client, url: str, png: bytes, task: str, limit: asyncio.Semaphore) -> dict:
    from PIL import Image

    start = time.perf_counter()
    data = {"task": task} if task == "auto" else {"task": task, "sigma": "20"}
    async with limit:
        r = await client.post(f"{url}/api/jobs", files={"files": ("photo.png", png, "image/png")}, data=data)
    if r.status_code != 202:
        return {"ok": False, "why": f"submit {r.status_code}: {r.text[:200]}"}
    job_id = r.json()["id"]
    while True:
        async with limit:
            state = (await client.get(f"{url}/api/jobs/{job_id}")).json()
        if state["finished"] is not None:
            break
        await asyncio.sleep(0.1)
    if state["status"] != "done":
        return {"ok": False, "why": f"job {state['status']}: {state['images'][0]['error']}"}
    async with limit:
        r = await client.get(f"{url}/api/jobs/{job_id}/results/0")
    size = Image.open(io.BytesIO(r.content)).size
    return {"ok": r.status_code == 200 and size[0] > 0, "seconds": time.perf_counter() - start,
            "why": None if r.status_code == 200 else f"download {r.status_code}"}


async def run_load(url: str, jobs: int, concurrency: int, size: int, task: str) -> tuple[list[dict], float]:
    import httpx

    images = [test_image(size, seed) for seed in range(jobs)]
    limit = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        start = time.perf_counter()
        results = await asyncio.gather(*(one_job(client, url, png, task, limit) for png in images))
        return list(results), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight at most")
    parser.add_argument("--workers", type=int, default=2, help="restora serve --workers")
    parser.add_argument("--size", type=int, default=64, help="side of the square test image, px")
    parser.add_argument("--task", default="auto", choices=["auto", "denoise"],
                        help="auto (estimate noise, then nlm) or denoise (nlm at sigma 20)")
    args = parser.parse_args()

    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "restora.cli", "serve", "--port", str(port), "--no-browser",
               "--workers", str(args.workers), "--queue-size", str(max(64, args.jobs))]
    env = {**os.environ, "RESTORA_SERVE_TOKEN": ""}
    env.pop("RESTORA_SERVE_TOKEN")
    server = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print("server did not start", file=sys.stderr)
                return 1
            time.sleep(0.1)
        with PeakRSS(server.pid) as rss:
            idle = rss.process.memory_info().rss
            results, wall = asyncio.run(run_load(url, args.jobs, args.concurrency, args.size, args.task))
    finally:
        server.terminate()
        server.wait(timeout=30)
    failures = [r["why"] for r in results if not r["ok"]]
    latencies = sorted(r["seconds"] for r in results if r["ok"])
    report = {
        "jobs": args.jobs, "concurrency": args.concurrency, "workers": args.workers,
        "image": f"{args.size}x{args.size} RGB PNG", "task": args.task,
        "completed": len(latencies), "failed": len(failures),
        "wall_s": round(wall, 2), "jobs_per_s": round(len(latencies) / wall, 2),
        "latency_median_s": round(latencies[len(latencies) // 2], 2) if latencies else None,
        "latency_max_s": round(latencies[-1], 2) if latencies else None,
        "server_rss_idle_mib": round(idle / 2**20, 1),
        "server_rss_peak_mib": round(rss.peak / 2**20, 1),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))
    for why in failures[:10]:
        print("failure:", why, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
