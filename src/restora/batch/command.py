"""``restora batch``: a thin command over :func:`restora.batch.run_batch`.

Exit status: 0 when every image is restored, 1 when any failed (listed with reasons, and
in the manifest), 2 for a usage error of the command itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import progress as rp
from rich.markup import escape

from restora.batch.core import run_batch
from restora.cli_options import request_options
from restora.console import console, stdout
from restora.options import Request

#: How many failures the summary lists before pointing at the manifest.
SHOWN_FAILURES = 20


def register(app: typer.Typer) -> None:
    """Add the ``batch`` command to the restora CLI."""
    app.command("batch")(batch)


@request_options()
def batch(
    in_dir: Annotated[Path, typer.Argument(help="Folder of photos to restore.", show_default=False)],
    out_dir: Annotated[Path, typer.Argument(help="Output folder (sub-folders mirrored; manifest in OUT_DIR/.restora).", show_default=False)],
    engine: Annotated[str, typer.Option(help="local (process pool) | ray (local Ray cluster, or --address).")] = "local",
    workers: Annotated[int | None, typer.Option(help="Worker processes / Ray actors (default: CPU count; 2 when the networks run on a GPU).", show_default=False)] = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Walk sub-folders too.")] = False,
    pattern: Annotated[str | None, typer.Option(help="File-name glob, e.g. '*.jpg' (default: every readable image).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Retry the images that failed before.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be done (new / redo / retry / skip); write nothing.")] = False,
    address: Annotated[str | None, typer.Option(help="Ray cluster to join ('auto' = the running one); --engine ray only.")] = None,
    *,
    request: Request,
) -> None:
    """Restore a whole folder, resumably: rerun to continue after a crash; done images are skipped.

    Every image goes through the same runner as `restora restore` (without --task: the
    automatic mode, per image); --threads defaults to cores / workers.
    """
    bar = None if dry_run else _ProgressBar(console)
    try:
        summary = run_batch(
            in_dir, out_dir, request, engine=engine, workers=workers, recursive=recursive,
            pattern=pattern, retry_failed=retry_failed, dry_run=dry_run, address=address,
            progress=None if bar is None else bar.update,
        )
    finally:
        if bar is not None:
            bar.stop()
    if dry_run:
        _print_plan(summary)
    else:
        _print_summary(summary, console)
    raise typer.Exit(summary.exit_code)


class _ProgressBar:
    """Rich bar: inputs accounted for, images/s of the workers, failures so far, ETA."""

    def __init__(self, console: Any) -> None:
        self._bar = rp.Progress(
            rp.TextColumn("batch"), rp.BarColumn(), rp.MofNCompleteColumn(),
            rp.TextColumn("{task.fields[rate]:.2f} img/s"),
            rp.TextColumn("[red]{task.fields[failed]} failed"),
            rp.TimeElapsedColumn(), rp.TextColumn("ETA {task.fields[eta]}"),
            console=console, transient=True,
        )
        self._task = self._bar.add_task("batch", total=None, rate=0.0, failed=0, eta="-")
        self._first: float | None = None
        self._started = False

    def update(self, summary: Any) -> None:
        if not self._started:
            self._bar.start()
            self._started = True
        now = time.perf_counter()
        if self._first is None and summary.finished == 0:
            self._first = now
        elapsed = now - (self._first or now)
        rate = summary.processed / elapsed if elapsed > 0 and summary.processed else 0.0
        remaining = summary.total - summary.finished
        eta = "-" if rate <= 0 else time.strftime("%H:%M:%S", time.gmtime(remaining / rate))
        self._bar.update(self._task, total=summary.total, completed=summary.finished, rate=rate,
                         failed=summary.failed, eta=eta)

    def stop(self) -> None:
        if self._started:
            self._bar.stop()


def _print_summary(summary: Any, console: Any) -> None:
    parts = [f"{summary.done} restored", f"{summary.skipped} skipped (already done)",
             f"{summary.failed} failed"]
    if summary.failed_before:
        parts.append(f"{summary.failed_before} failed earlier, not retried (--retry-failed)")
    if summary.interrupted:
        parts.append(f"{summary.interrupted} redone (in flight when an earlier run stopped)")
    console.print(
        f"batch {summary.in_dir} -> {summary.out_dir}: " + ", ".join(parts)
        + f" in {summary.seconds:.1f} s ({summary.images_per_second:.2f} img/s, "
        f"{summary.engine}, {summary.workers} workers)",
        highlight=False, soft_wrap=True,
    )
    if summary.ignored:
        console.print(f"{len(summary.ignored)} file(s) ignored (not images or not matching "
                      "--pattern)", highlight=False)
    for rel, message in summary.failures[:SHOWN_FAILURES]:
        message = message.removeprefix(f"{summary.in_dir / rel}: ")  # the path is on the left
        console.print(f"[red]failed[/red] {escape(rel)}: {escape(message)}", highlight=False,
                      soft_wrap=True)
    hidden = len(summary.failures) - SHOWN_FAILURES
    if hidden > 0:
        console.print(f"... and {hidden} more failure(s)", highlight=False)
    if summary.failures:
        console.print(f"manifest: {summary.manifest}", highlight=False)


def _print_plan(summary: Any) -> None:
    counts: dict[str, int] = {}
    for rel, action, reason in summary.plan:
        counts[action] = counts.get(action, 0) + 1
        stdout.print(f"{action:<13} {escape(rel)}  ({escape(reason)})", highlight=False,
                     soft_wrap=True)
    stdout.print("dry run, nothing written: "
                 + (", ".join(f"{n} {a}" for a, n in counts.items()) or "no images found"),
                 highlight=False)
