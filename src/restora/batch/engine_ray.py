"""The Ray engine: the same jobs on a Ray cluster (local or ``address="auto"``).

One actor per worker, each with one :class:`~restora.run.Restorer`; an actor takes a GPU
(``num_gpus=1``) when the cluster has GPUs and the request's device is not ``cpu``.
At most two jobs wait per actor (``ray.wait`` gives the backpressure). The driver keeps
writing the manifest: actors only return results.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from typing import Any, Self

from restora._optional import require
from restora.batch.worker import JobResult, WorkerState
from restora.options import Request

CRASH_MESSAGE = (
    "{source}: the Ray worker died or failed while restoring this image ({detail}); rerun "
    "with --retry-failed"
)


class _RayWorker:
    """Actor body: a :class:`WorkerState` that lives as long as the actor."""

    def __init__(self, request: Request, threads: int | None) -> None:
        self.state = WorkerState(request, threads)

    def process(self, source: str, target: str) -> JobResult:
        return self.state.process(source, target)


class RayEngine:
    """Runs jobs on Ray actors; ``address`` joins a cluster, else a local one is started.

    workers: actors to start (default: the cluster's CPUs, or its GPUs when using them).
    """

    name = "ray"

    def __init__(
        self, request: Request, *, workers: int | None, threads: int | None,
        address: str | None = None,
    ) -> None:
        self.request = request
        self.workers = workers
        self.threads = threads
        self.address = address
        self._ray: Any = None
        self._owns = False
        self._actors: list[Any] = []

    def __enter__(self) -> Self:
        self._ray = require("ray", extra="ray", purpose="the Ray batch engine (--engine ray)")
        return self

    def _start(self) -> None:
        """Join or start the cluster and the actors (on the first job: a rerun with nothing
        to do starts nothing)."""
        ray = self._ray
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            if self.address:
                ray.init(address=self.address, logging_level="WARNING", log_to_driver=False)
            else:
                ray.init(num_cpus=self.workers or os.cpu_count() or 1, include_dashboard=False,
                         logging_level="WARNING", log_to_driver=False)
            self._owns = True
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        use_gpu = gpus > 0 and self.request.execution.device != "cpu"
        count = self.workers or (gpus if use_gpu else max(1, int(resources.get("CPU", 1))))
        if use_gpu:
            count = min(count, gpus)
        actor = ray.remote(_RayWorker).options(
            num_cpus=1, num_gpus=1 if use_gpu else 0, max_restarts=1
        )
        self.workers = count
        self._actors = [actor.remote(self.request, self.threads) for _ in range(count)]

    def __exit__(self, *exc: object) -> None:
        ray = self._ray
        if ray is None:
            return
        for handle in self._actors:
            try:
                ray.kill(handle)
            except Exception:  # noqa: BLE001, S110 (the actor is already gone)
                pass
        self._actors = []
        if self._owns:
            ray.shutdown()

    def run(self, jobs: Iterable[Any]) -> Iterator[tuple[Any, JobResult]]:
        """Dispatch ``jobs`` to the least busy actor, two at most per actor."""
        ray = self._ray
        source = iter(jobs)
        first = next(source, None)
        if first is None:
            return
        self._start()
        source = itertools.chain([first], source)
        load = [0] * len(self._actors)
        pending: dict[Any, tuple[Any, int]] = {}
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * len(self._actors):
                job = next(source, None)
                if job is None:
                    exhausted = True
                    break
                slot = min(range(len(load)), key=load.__getitem__)
                ref = self._actors[slot].process.remote(job.source, job.target)
                pending[ref] = (job, slot)
                load[slot] += 1
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                job, slot = pending.pop(ref)
                load[slot] -= 1
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    detail = " ".join(str(exc).split())[:300]
                    result = JobResult("failed", 0.0,
                                       CRASH_MESSAGE.format(source=job.source, detail=detail),
                                       type(exc).__name__)
                yield job, result
