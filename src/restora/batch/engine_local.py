"""The local engine: a process pool, one method/model load per worker process."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Self

from restora.batch.worker import JobResult, init_process, process_in_pool
from restora.errors import RestoraError
from restora.options import Request

#: Message for images in flight when a worker process died (segfault, out of memory).
CRASH_MESSAGE = (
    "{source}: a worker process died (out of memory or a crash in a decoder/method) while "
    "this image was in flight; rerun with --retry-failed, with fewer --workers if memory is short"
)

#: The pool died before any result: the workers cannot start at all.
START_FAILED = (
    "the batch worker processes died before restoring anything ({exc}). Worker processes "
    "re-import the calling script: run it from a file (not stdin), with the run_batch call "
    "under `if __name__ == \"__main__\":`; see the worker tracebacks above"
)


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where the platform has it (fast and safe with torch), else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["restora.batch.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


class LocalEngine:
    """Runs jobs on ``workers`` processes, at most ``in_flight`` submitted at a time.

    request: what every image gets; threads: CPU threads per image (or None).
    Use as a context manager; :meth:`run` yields ``(job, JobResult)`` as images finish.
    """

    name = "local"

    def __init__(
        self, request: Request, *, workers: int, threads: int | None,
        in_flight: int | None = None,
    ) -> None:
        self.request = request
        self.workers = workers
        self.threads = threads
        self.in_flight = in_flight or 2 * workers
        self._pool: ProcessPoolExecutor | None = None
        self._started = False
        self._ctx = _context()
        # Workers watch the read end; only this process holds the write end.
        self._alive_r, self._alive_w = self._ctx.Pipe(duplex=False)

    def _start(self) -> ProcessPoolExecutor:
        self._started = False  # no result yet from this pool
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._ctx,
            initializer=init_process,
            initargs=(self.request, self.threads, self._alive_r),
        )

    def __enter__(self) -> Self:
        self._pool = self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._alive_w.close()
        self._alive_r.close()

    def run(self, jobs: Iterable[Any]) -> Iterator[tuple[Any, JobResult]]:
        """Submit ``jobs`` (objects with ``source`` and ``target``) with backpressure."""
        assert self._pool is not None, "use LocalEngine as a context manager"
        source = iter(jobs)
        pending: dict[Future[JobResult], Any] = {}
        exhausted = False
        while True:
            while not exhausted and len(pending) < self.in_flight:
                job = next(source, None)
                if job is None:
                    exhausted = True
                    break
                pending[self._pool.submit(process_in_pool, job.source, job.target)] = job
            if not pending:
                return
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                job = pending.pop(future)
                try:
                    result = future.result()
                    self._started = True
                except BrokenProcessPool as exc:
                    if not self._started:
                        raise RestoraError(START_FAILED.format(exc=exc)) from None
                    broken = True
                    result = JobResult("failed", 0.0, CRASH_MESSAGE.format(source=job.source),
                                       "BrokenProcessPool")
                yield job, result
            if broken:
                # Every job still in flight is lost with the pool: record them, start afresh.
                for job in pending.values():
                    yield job, JobResult("failed", 0.0, CRASH_MESSAGE.format(source=job.source),
                                         "BrokenProcessPool")
                pending.clear()
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()
