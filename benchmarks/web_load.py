"""Load test of ``restora serve``: N concurrent small jobs from a loopback client.

Starts ``restora serve`` in a subprocess on a free loopback port, submits ``--jobs`` jobs
(one noisy astronaut crop each) with at most ``--concurrency`` requests in flight (httpx
async), polls each job to completion, downloads and decodes every result, and reports
jobs/s and the server's peak resident memory (RSS, sampled every 20 ms with psutil).
Every job must finish "done" and every result must decode, or the script exits 1.

    .venv/bin/python benchmarks/web_load.py --jobs 50 --concurrency 50 --workers 2

``--hostile`` adds, during the load, the hardening issue's bad requests: a 6 KB 1-bit PNG
declaring 7000x7000 (49 MP), 200 MB bodies (with and without Content-Length), and counts
every 5xx answer; ``--memory-limit-mb`` starts the server under that address-space limit
(``RLIMIT_AS``); ``--kill-restart`` then SIGKILLs the server, starts it again on the same
data folder and fetches every finished job's result, and looks for uploads left behind.

    .venv/bin/python benchmarks/web_load.py --jobs 200 --concurrency 20 --hostile \
        --memory-limit-mb 8192 --max-memory-mb 512 --kill-restart
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
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


STATUSES: list[int] = []  # every answer's status code


def one_bit_bomb(side: int = 7000) -> bytes:
    """A valid 1-bit PNG of side x side black pixels (49 MP in about 6 KB)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, "PNG")
    return buf.getvalue()


async def hostile(url: str) -> dict:
    """The bad requests: the bomb PNG (twice), a 200 MB body with and without Content-Length,
    on connections of their own (the server closes a connection whose body it refused)."""
    import httpx

    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        return await _hostile(client, url)


async def _hostile(client, url: str) -> dict:
    bomb = one_bit_bomb()
    out: dict[str, object] = {"bomb_bytes": len(bomb)}
    for i in range(2):
        start = time.perf_counter()
        r = await client.post(f"{url}/api/jobs", files={"files": ("bomb.png", bomb, "image/png")})
        STATUSES.append(r.status_code)
        out[f"bomb_{i}"] = {"status": r.status_code, "seconds": round(time.perf_counter() - start, 2),
                            "detail": r.json().get("detail", "")[:160]}
    body = 200 * 2**20
    boundary = "x" * 16
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()

    async def chunks():
        yield head
        for _ in range(body // 2**20):
            yield bytes(2**20)

    for mode in ("content-length", "chunked"):
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        start = time.perf_counter()
        try:
            if mode == "content-length":
                headers["Content-Length"] = str(len(head) + body)
            r = await client.post(f"{url}/api/jobs", content=chunks(), headers=headers)
            STATUSES.append(r.status_code)
            out[f"body_200mb_{mode}"] = {"status": r.status_code,
                                         "seconds": round(time.perf_counter() - start, 2)}
        except Exception as exc:  # noqa: BLE001  (the server may close the connection after its 413)
            out[f"body_200mb_{mode}"] = {"status": f"closed ({type(exc).__name__})",
                                         "seconds": round(time.perf_counter() - start, 2)}
    return out


async def one_job(client, url: str, png: bytes, task: str, limit: asyncio.Semaphore) -> dict:
    from PIL import Image

    start = time.perf_counter()
    data = {"task": task} if task == "auto" else {"task": task, "sigma": "20"}
    async with limit:
        r = await client.post(f"{url}/api/jobs", files={"files": ("photo.png", png, "image/png")}, data=data)
    STATUSES.append(r.status_code)
    if r.status_code != 202:
        return {"ok": False, "why": f"submit {r.status_code}: {r.text[:200]}"}
    job_id = r.json()["id"]
    while True:
        async with limit:
            answer = await client.get(f"{url}/api/jobs/{job_id}")
        STATUSES.append(answer.status_code)
        state = answer.json()
        if state["finished"] is not None:
            break
        await asyncio.sleep(0.1)
    if state["status"] != "done":
        return {"ok": False, "why": f"job {state['status']}: {state['images'][0]['error']}"}
    async with limit:
        r = await client.get(f"{url}/api/jobs/{job_id}/results/0")
    STATUSES.append(r.status_code)
    size = Image.open(io.BytesIO(r.content)).size
    return {"ok": r.status_code == 200 and size[0] > 0, "seconds": time.perf_counter() - start,
            "why": None if r.status_code == 200 else f"download {r.status_code}", "id": job_id,
            "sha": hash(r.content)}


async def run_load(url: str, jobs: int, concurrency: int, size: int, task: str,
                   bad: bool = False) -> tuple[list[dict], float, dict]:
    import httpx

    images = [test_image(size, seed) for seed in range(jobs)]
    limit = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        start = time.perf_counter()
        extra = [hostile(url)] if bad else []
        *results, = await asyncio.gather(*(one_job(client, url, png, task, limit) for png in images),
                                         *extra)
        found = results.pop() if bad else {}
        return list(results), time.perf_counter() - start, found


def start_server(command: list[str], env: dict, url: str, memory_limit_mb: int | None
                 ) -> subprocess.Popen:
    import httpx

    def limit() -> None:
        if memory_limit_mb:
            size = memory_limit_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    server = subprocess.Popen(command, env=env, preexec_fn=limit)  # noqa: PLW1509
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/api/health").status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise RuntimeError("server did not start")
        time.sleep(0.1)


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a worker still busy: do not wait for it
        server.kill()
        server.wait()


def kill_and_restart(command: list[str], env: dict, url: str, server: subprocess.Popen,
                     results: list[dict], data_dir: Path, memory_limit_mb: int | None) -> dict:
    """SIGKILL the server, start it again on the same data folder, fetch every finished job."""
    import httpx

    server.send_signal(signal.SIGKILL)
    server.wait()
    start = time.perf_counter()
    server = start_server(command, env, url, memory_limit_mb)
    restart_s = time.perf_counter() - start
    answered = same = 0
    try:
        with httpx.Client(timeout=60) as client:
            for r in results:
                if not r["ok"]:
                    continue
                got = client.get(f"{url}/api/jobs/{r['id']}/results/0")
                STATUSES.append(got.status_code)
                answered += got.status_code == 200
                same += got.status_code == 200 and hash(got.content) == r["sha"]
    finally:
        stop(server)
    stale = [p for p in Path(tempfile.gettempdir()).glob("restora-web-*")
             if (p / "server.pid").is_file() and (p / "server.pid").read_text().strip() == str(server.pid)]
    return {"restart_s": round(restart_s, 1), "finished_before_kill": sum(r["ok"] for r in results),
            "answered_after_restart": answered, "identical_results": same,
            "uploads_left": len(list((data_dir / "jobs").glob("*/in-*"))),
            "temp_folders_left": len(stale)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight at most")
    parser.add_argument("--workers", type=int, default=2, help="restora serve --workers")
    parser.add_argument("--size", type=int, default=64, help="side of the square test image, px")
    parser.add_argument("--task", default="auto", choices=["auto", "denoise"],
                        help="auto (estimate noise, then nlm) or denoise (nlm at sigma 20)")
    parser.add_argument("--hostile", action="store_true",
                        help="also send the bomb PNG and 200 MB bodies during the load")
    parser.add_argument("--memory-limit-mb", type=int, default=None,
                        help="run the server under this address-space limit (RLIMIT_AS)")
    parser.add_argument("--max-memory-mb", type=float, default=None,
                        help="restora serve --max-memory-mb (the jobs' memory budget)")
    parser.add_argument("--kill-restart", action="store_true",
                        help="then SIGKILL the server, restart it, fetch every finished job")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = Path(tempfile.mkdtemp(prefix="restora-web-load-"))
    command = [sys.executable, "-m", "restora.cli", "serve", "--port", str(port), "--no-browser",
               "--workers", str(args.workers), "--queue-size", str(max(64, args.jobs)),
               "--data-dir", str(data_dir)]
    if args.max_memory_mb:
        command += ["--max-memory-mb", str(args.max_memory_mb)]
    env = {**os.environ, "RESTORA_SERVE_TOKEN": ""}
    env.pop("RESTORA_SERVE_TOKEN")
    try:
        server = start_server(command, env, url, args.memory_limit_mb)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    restart = None
    try:
        with PeakRSS(server.pid) as rss:
            idle = rss.process.memory_info().rss
            results, wall, bad = asyncio.run(run_load(url, args.jobs, args.concurrency, args.size,
                                                      args.task, args.hostile))
        if args.kill_restart:
            restart = kill_and_restart(command, env, url, server, results, data_dir,
                                       args.memory_limit_mb)
    finally:
        if server.poll() is None:
            stop(server)
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
        "memory_limit_mb": args.memory_limit_mb, "max_memory_mb": args.max_memory_mb,
        "answers": len(STATUSES), "answers_5xx": sum(s >= 500 for s in STATUSES),
        "hostile": bad or None, "kill_restart": restart,
    }
    print(json.dumps(report, indent=2))
    for why in failures[:10]:
        print("failure:", why, file=sys.stderr)
    broken = restart is not None and (restart["answered_after_restart"] != restart["finished_before_kill"]
                                      or restart["uploads_left"] or restart["temp_folders_left"])
    return 1 if failures or report["answers_5xx"] or broken else 0


if __name__ == "__main__":
    sys.exit(main())
