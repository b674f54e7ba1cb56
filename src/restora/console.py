"""The terminal side of the commands: the two Rich consoles, progress bars, error lines."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from rich import progress as rp
from rich.console import Console
from rich.text import Text

#: Messages, progress and errors (stderr); results go to :data:`stdout`.
console = Console(stderr=True)
stdout = Console()


def progress_bar(label: str) -> tuple[Any, Any]:
    """A transient Rich progress bar and its ``progress(done, total)`` callback (a silent
    stand-in when stderr is not a terminal: logs get the result lines only)."""
    if not console.is_terminal:
        return nullcontext(), lambda done, total: None
    bar = rp.Progress(rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
                      rp.TimeElapsedColumn(), rp.TimeRemainingColumn(), console=console,
                      transient=True)
    task_id = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task_id, completed=done, total=total)

    return bar, update


def print_error(exc: BaseException) -> None:
    """One ``error: ...`` line on stderr."""
    console.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False, soft_wrap=True)
