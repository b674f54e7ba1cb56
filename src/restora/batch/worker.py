"""What a batch worker does (the same in a local process and in a Ray actor).

A worker resolves the method (loads a model) once, then restores one file per call with
:func:`restora.api.restore_file` and returns a :class:`JobResult`; it never writes the
manifest. Restore options arrive as a dict of :func:`restore_file` keyword arguments, so
options added to the API flow through unchanged.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from restora.errors import RestoraError

Outcome = Literal["done", "failed", "setup"]


@dataclass(frozen=True)
class JobResult:
    """How one image went: ``done``, ``failed`` (message = the restora error), or ``setup``
    (the method/model could not be prepared at all: the batch stops with that error)."""

    status: Outcome
    seconds: float
    error: str | None = None
    error_type: str | None = None


def resolve_names() -> frozenset[str]:
    """Keyword names that pick the method (consumed once per worker, except ``task``)."""
    from restora.api import resolve_method

    return frozenset(inspect.signature(resolve_method).parameters)


class WorkerState:
    """A worker's resolved method and the per-call options for ``restore_file``.

    options: ``restore_file`` keyword arguments (``task``, ``method``, ``model``, ``sigma``...).
    threads: CPU threads per image when ``options`` does not set ``threads`` (``None``: leave).
    """

    def __init__(self, options: dict[str, Any], threads: int | None = None) -> None:
        from restora.api import resolve_method, restore_file

        self._restore_file = restore_file
        picks = resolve_names()
        chosen = {k: v for k, v in options.items() if k in picks}
        chosen.setdefault("method", None)
        self.call = {k: v for k, v in options.items() if k not in picks or k == "task"}
        if threads is not None and "threads" not in options and _accepts("threads"):
            self.call["threads"] = threads
        self.setup_error: tuple[str, str] | None = None
        self.info: Any = None
        try:
            self.info = resolve_method(**chosen)
        except RestoraError as exc:
            self.setup_error = (type(exc).__name__, str(exc))

    def process(self, source: str, target: str) -> JobResult:
        """Restore ``source`` into ``target`` (atomic); never raises for a bad image."""
        start = time.perf_counter()
        if self.setup_error is not None:
            kind, message = self.setup_error
            return JobResult("setup", 0.0, message, kind)
        try:
            self._restore_file(source, target, method=self.info, **self.call)
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


def _accepts(name: str) -> bool:
    from restora.api import restore_file

    return name in inspect.signature(restore_file).parameters


# --- process-pool side -------------------------------------------------------------------

_STATE: WorkerState | None = None
_BUSY = threading.Lock()


def init_process(options: dict[str, Any], threads: int | None, alive: Any) -> None:
    """ProcessPoolExecutor initializer: resolve the method once, and exit with the driver.

    alive: the read end of a pipe whose write end only the driver holds. A watchdog thread
    ends the process when it reads end-of-file (the driver is gone, even by SIGKILL), but
    only between images, so an image in progress is still written whole. (Watching the
    parent pid is not enough: under forkserver the parent is the fork server, which the
    workers themselves keep alive.)
    """
    global _STATE
    _STATE = WorkerState(options, threads)

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
