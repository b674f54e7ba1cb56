"""What a batch worker does (the same in a local process and in a Ray actor).

A worker holds one :class:`~restora.run.Restorer` for the batch's request (methods chosen
per image, networks loaded once), restores one file per call with
:meth:`~restora.run.Restorer.run_file` and returns a :class:`JobResult`; it never writes
the manifest.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Literal

from restora.errors import RestoraError
from restora.options import Request
from restora.run import Restorer

Outcome = Literal["done", "failed", "setup"]


@dataclass(frozen=True)
class JobResult:
    """How one image went: ``done``, ``failed`` (message = the restora error), or ``setup``
    (the method/model could not be prepared at all: the batch stops with that error)."""

    status: Outcome
    seconds: float
    error: str | None = None
    error_type: str | None = None


class WorkerState:
    """A worker's :class:`Restorer` and the request's parameters and output options.

    threads: CPU threads per image when the request does not set them (``None``: leave).
    """

    def __init__(self, request: Request, threads: int | None = None) -> None:
        execution = request.execution
        if threads is not None and execution.threads is None:
            execution = replace(execution, threads=threads)
        self.request = request
        # the driver decided which outputs may be replaced (its own earlier ones, or all
        # with --overwrite); the input is never the output (run_batch refuses that folder)
        self.output = replace(request.output, overwrite=True)
        self.restorer = Restorer(request.choice, execution)
        self.setup_error: tuple[str, str] | None = None
        try:
            self.restorer.check()
        except RestoraError as exc:
            self.setup_error = (type(exc).__name__, str(exc))

    def process(self, source: str, target: str) -> JobResult:
        """Restore ``source`` into ``target`` (atomic); never raises for a bad image."""
        start = time.perf_counter()
        if self.setup_error is not None:
            kind, message = self.setup_error
            return JobResult("setup", 0.0, message, kind)
        try:
            if os.path.realpath(source) == os.path.realpath(target):
                return JobResult("failed", 0.0, f"{target}: is the input itself; not written",
                                 "OutputExistsError")
            self.restorer.run_file(source, target, self.request.params, self.output)
        except RestoraError as exc:
            return JobResult("failed", time.perf_counter() - start, str(exc), type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 (a bug, or a decoder error not wrapped yet)
            detail = " ".join(str(exc).split())
            return JobResult(
                "failed",
                time.perf_counter() - start,
                f"{source}: unexpected {type(exc).__name__}: {detail} (a restora bug; please "
                "report it with this file)",
                type(exc).__name__,
            )
        return JobResult("done", time.perf_counter() - start)


# --- process-pool side -------------------------------------------------------------------

_STATE: WorkerState | None = None
_BUSY = threading.Lock()


def init_process(request: Request, threads: int | None, alive: Any) -> None:
    """ProcessPoolExecutor initializer: resolve the method once, and exit with the driver.

    alive: the read end of a pipe whose write end only the driver holds. A watchdog thread
    ends the process when it reads end-of-file (the driver is gone, even by SIGKILL), but
    only between images, so an image in progress is still written whole. (Watching the
    parent pid is not enough: under forkserver the parent is the fork server, which the
    workers themselves keep alive.)
    """
    global _STATE
    _STATE = WorkerState(request, threads)

    def watch() -> None:
        try:
            while True:
                alive.recv_bytes()
        except (EOFError, OSError):
            pass
        _BUSY.acquire()
        os._exit(1)

    threading.Thread(target=watch, name="restora-batch-watchdog", daemon=True).start()


def process_in_pool(source: str, target: str) -> JobResult:
    """The pool task: restore one file with this process's :class:`WorkerState`."""
    assert _STATE is not None, "init_process did not run"
    with _BUSY:
        return _STATE.process(source, target)
