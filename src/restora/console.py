"""The terminal side of the commands: the two Rich consoles, progress bars, error lines."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, Self

from rich import progress as rp
from rich.console import Console
from rich.text import Text

from restora.pipeline.progress import Meter

#: Messages, progress and errors (stderr); results go to :data:`stdout`.
console = Console(stderr=True)
stdout = Console()


#: Seconds a run lasts before its progress bar appears: quick images show none.
SHOW_AFTER_S = 1.0


def progress_bar(label: str, megapixels: float | None = None) -> tuple[Any, Callable[[int, int], None]]:
    """A transient progress bar for work that takes more than :data:`SHOW_AFTER_S` seconds,
    with megapixels per second (when ``megapixels``, the input's size, is given) and the
    time left (:class:`~restora.pipeline.progress.Meter`), and its ``progress(done, total)``
    callback. Use the bar as a context manager around the work. A silent stand-in when
    stderr is not a terminal: logs get the result lines only."""
    if not console.is_terminal:
        return nullcontext(), lambda done, total: None
    bar = _DelayedBar(label, megapixels)
    return bar, bar.update


class _DelayedBar:
    """A Rich progress bar that starts showing :data:`SHOW_AFTER_S` seconds after entry."""

    def __init__(self, label: str, megapixels: float | None) -> None:
        self.meter = Meter(megapixels)
        self.bar = rp.Progress(rp.TextColumn("{task.description}"), rp.BarColumn(),
                               rp.TaskProgressColumn(), rp.TextColumn("{task.fields[speed]}"),
                               rp.TimeElapsedColumn(), console=console, transient=True)
        self.task = self.bar.add_task(label, total=None, speed="")
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._shown = self._closed = False

    def __enter__(self) -> Self:
        self.meter.restart()
        self._timer = threading.Timer(SHOW_AFTER_S, self._show)
        self._timer.daemon = True
        self._timer.start()
        return self

    def _show(self) -> None:
        with self._lock:
            if not (self._closed or self._shown):
                self.bar.start()
                self._shown = True

    def update(self, done: int, total: int) -> None:
        speed = self.meter(done, total)
        self.bar.update(self.task, completed=done, total=total, speed=speed.describe())
        if speed.elapsed >= SHOW_AFTER_S:
            self._show()

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._closed = True
            if self._shown:
                self.bar.stop()


def print_error(exc: BaseException) -> None:
    """One ``error: ...`` line on stderr."""
    console.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False, soft_wrap=True)
