"""``run_batch``: restore a folder of photos, resumably, on a local pool or on Ray.

The driver walks the input folder (sorted), hashes each file, decides from the manifest
whether it is new, already done, or to be redone, hands the work to an engine and appends
one manifest line per finished image. Only the driver writes the manifest.

Resume rules (per input, from its latest manifest line):

- same content hash + same parameters + ``done`` + output present -> skipped;
- same content hash + same parameters + ``failed`` -> skipped, retried with ``retry_failed``;
- anything else (new file, changed content, changed parameters, missing output) -> restored.

Outputs are written atomically (temp file + rename); temp files left by a killed run are
removed at start. A ``done`` line is written only after the rename, so a kill between the
two makes the rerun restore that image again (replacing the output whole): an image never
gets two ``done`` lines for the same content and parameters.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from restora import __version__, errors
from restora.batch.engine_local import LocalEngine
from restora.batch.engine_ray import RayEngine
from restora.batch.manifest import (
    MANIFEST_DIR,
    ManifestWriter,
    Record,
    manifest_path,
    params_hash,
    read_manifest,
)
from restora.errors import ImageReadError, InvalidParameterError, RestoraError
from restora.io import is_image_path
from restora.io.atomic import file_sha256
from restora.models.inference import available_cpus
from restora.options import Request
from restora.run import Restorer

ENGINES = ("local", "ray")

#: Temp files of restora.io.atomic.atomic_write: ``.<name>.<8 random chars>.tmp``.
_TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")

Action = Literal["new", "skip", "retry", "redo", "failed-before", "refused"]


@dataclass
class BatchSummary:
    """What a batch did (or, with ``dry_run``, would do).

    total: inputs found. done / failed: restored / failed in this run. skipped: already done
    with the same content and parameters. failed_before: failed in an earlier run with the
    same content and parameters, not retried (pass ``retry_failed``). interrupted: inputs an
    earlier run had handed to a worker when it was killed (redone in this run). failures: (input
    relative path, message) for this run's failures and the ones not retried. ignored:
    files in the folder that are not images (or do not match ``pattern``). plan: with
    ``dry_run``, (input, action, reason) for every input; action is new / redo / retry /
    skip / failed-before. seconds: wall time of the run.
    """

    in_dir: Path
    out_dir: Path
    engine: str
    workers: int
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    failed_before: int = 0
    interrupted: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    plan: list[tuple[str, str, str]] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def manifest(self) -> Path:
        return manifest_path(self.out_dir)

    @property
    def finished(self) -> int:
        """Inputs accounted for so far (restored, failed or skipped)."""
        return self.done + self.failed + self.skipped + self.failed_before

    @property
    def processed(self) -> int:
        """Images the workers handled in this run (done + failed)."""
        return self.done + self.failed

    @property
    def images_per_second(self) -> float:
        elapsed = self.seconds or (time.perf_counter() - self.started)
        return self.processed / elapsed if elapsed > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0 when every input is restored; 1 when any failed (now or earlier, not retried)."""
        return 1 if (self.failed or self.failed_before) else 0


BatchProgress = Callable[[BatchSummary], None]


@dataclass(frozen=True)
class Job:
    """One image to restore: absolute ``source`` and ``target`` paths plus its identity."""

    rel: str
    source: str
    target: str
    size: int
    sha256: str


def run_batch(
    in_dir: str | Path,
    out_dir: str | Path,
    request: Request | Mapping[str, Any] | None = None,
    *,
    engine: str = "local",
    workers: int | None = None,
    recursive: bool = False,
    pattern: str | None = None,
    retry_failed: bool = False,
    dry_run: bool = False,
    address: str | None = None,
    progress: BatchProgress | None = None,
) -> BatchSummary:
    """Restore every image of ``in_dir`` into ``out_dir`` (same sub-folders), resumably.

    request: what to do with every image, a :class:`~restora.options.Request` or its fields
        as a mapping (``task``, ``method``, ``model``, ``sigma``, ``scale``, ``device``,
        ``format`` (``same``: each input's; RAW becomes 16-bit TIFF), ``suffix`` (added to
        each output's stem) ...; unknown names raise). Default: the automatic mode.
    engine: ``local`` (process pool of ``workers``, default the CPU count, or
        :data:`GPU_WORKERS` when the networks run on a GPU) or ``ray``
        (actors on a local Ray cluster, or the one at ``address``, e.g. ``"auto"``).
    recursive: walk sub-folders too (hidden ones and ``out_dir`` are never walked).
    pattern: file-name glob (case-insensitive, e.g. ``"*.jpg"``; a pattern with ``/`` is
        matched against the relative path); default: every readable image suffix.
    retry_failed: restore again the inputs that failed before (else they are skipped).
    dry_run: decide (hashing the inputs) but write nothing; see ``BatchSummary.plan``.
    progress: called with the running summary at start and after each input.

    Bad images never stop the batch: each is recorded as failed with restora's message.
    Raises :class:`InvalidParameterError` for bad arguments, :class:`ImageReadError` when
    ``in_dir`` is not a folder, :class:`ImageWriteError` when another batch holds ``out_dir``,
    and the worker's error when the method or model cannot be set up at all.
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not isinstance(request, Request):
        request = Request.from_mapping(request or {}, source="batch")
    if engine not in ENGINES:
        raise InvalidParameterError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise InvalidParameterError(f"workers must be an integer >= 1; got {workers!r}")
    if address is not None and engine != "ray":
        raise InvalidParameterError("address applies to the Ray engine only; add --engine ray")
    if not in_dir.is_dir():
        raise ImageReadError(in_dir, "is not a folder; give the folder of photos to restore")
    if _same_path(in_dir, out_dir) and request.output.format == "same" and not request.output.suffix:
        raise InvalidParameterError(
            f"the output folder {out_dir} is the input folder: the outputs would replace the "
            "originals. Choose another output folder, or give --suffix or --format"
        )

    latest, records = read_manifest(manifest_path(out_dir))
    written = {r.output for r in records}  # outputs earlier runs of this batch wrote
    inputs, ignored = walk_inputs(in_dir, recursive=recursive, pattern=pattern, exclude=out_dir)
    ours = _outputs_inside(records, out_dir, in_dir)
    if ours:  # the output folder is (inside) the input folder: never restore our outputs
        inputs = [rel for rel in inputs if rel not in ours]
    targets = _targets(inputs, out_dir, request)
    params = request.fingerprint()
    phash = params_hash(params)
    restorer = Restorer(request.choice, request.execution)
    restorer.check()  # a bad method or model: fail now
    count = _worker_count(engine, workers, restorer)
    summary = BatchSummary(in_dir=in_dir, out_dir=out_dir, engine=engine, workers=count,
                           total=len(inputs), ignored=ignored, dry_run=dry_run)

    def decide() -> Iterator[tuple[Job, Action, str]]:
        for rel, target in zip(inputs, targets):
            source = in_dir / rel
            try:
                size, digest = source.stat().st_size, file_sha256(source)
            except OSError as exc:  # vanished or unreadable: the worker reports it as failed
                job = Job(rel, str(source), str(out_dir / target), -1, "")
                yield job, "new", f"cannot read it now ({exc.strerror})"
                continue
            job = Job(rel, str(source), str(out_dir / target), size, digest)
            action, reason = _action(latest.get(rel), job, target, phash, out_dir,
                                     retry_failed=retry_failed)
            if action not in ("skip", "failed-before"):
                refusal = _refusal(out_dir, target, written, overwrite=request.output.overwrite)
                if refusal is not None:
                    action, reason = "refused", refusal
            yield job, action, reason

    if dry_run:
        for job, action, reason in decide():
            summary.plan.append((job.rel, action, reason))
        summary.seconds = time.perf_counter() - summary.started
        return summary

    def notify() -> None:
        if progress is not None:
            progress(summary)

    with ManifestWriter(out_dir) as writer:
        latest, _ = read_manifest(writer.path)  # again, now that no other batch can write
        remove_stale_temps(out_dir)
        notify()

        def record(job: Job, status: str, seconds: float, error: str | None) -> None:
            writer.append(Record(
                input=job.rel, size=job.size, sha256=job.sha256, params_hash=phash,
                params=params, status=status,  # type: ignore[arg-type]
                output=Path(job.target).relative_to(out_dir).as_posix(),
                seconds=round(seconds, 4), error=error, version=__version__,
                finished=datetime.now(UTC).isoformat(timespec="seconds"),
            ))
            if status == "started":
                return
            if status == "done":
                summary.done += 1
            else:
                summary.failed += 1
                summary.failures.append((job.rel, error or "unknown error"))
            notify()

        def jobs() -> Iterator[Job]:
            for job, action, reason in decide():
                if action == "skip":
                    summary.skipped += 1
                elif action == "failed-before":
                    summary.failed_before += 1
                    summary.failures.append((job.rel, reason))
                elif action == "refused":  # recorded, never handed to a worker
                    record(job, "failed", 0.0, f"{job.target}: {reason}")
                else:
                    if action == "redo" and reason.startswith("it was in flight"):
                        summary.interrupted += 1
                    record(job, "started", 0.0, None)
                    yield job
                    continue
                notify()

        threads = _threads_per_worker(count)
        with _engine(engine, request, workers=count, threads=threads,
                     address=address) as runner:
            for job, result in runner.run(jobs()):
                if result.status == "setup":
                    raise _setup_error(result)
                record(job, result.status, result.seconds, result.error)
    summary.seconds = time.perf_counter() - summary.started
    summary.workers = getattr(runner, "workers", count) or count
    return summary


# --- walking and naming ------------------------------------------------------------------


def walk_inputs(
    in_dir: Path, *, recursive: bool, pattern: str | None, exclude: Path | None = None
) -> tuple[list[str], list[str]]:
    """(inputs, ignored): POSIX paths relative to ``in_dir``, sorted; hidden entries skipped.

    Inputs are names :func:`restora.io.is_image_path` accepts, or that match ``pattern``.
    """
    skip_dir = exclude.resolve() if exclude is not None else None
    found: list[str] = []
    ignored: list[str] = []
    for root, dirs, files in os.walk(in_dir):
        root_path = Path(root)
        dirs[:] = sorted(
            d for d in dirs
            if recursive and not d.startswith(".")
            and (skip_dir is None or (root_path / d).resolve() != skip_dir)
        )
        for name in sorted(files):
            if name.startswith("."):
                continue
            rel = (root_path / name).relative_to(in_dir).as_posix()
            if pattern is not None:
                subject = rel if "/" in pattern else name
                keep = fnmatch.fnmatchcase(subject.lower(), pattern.lower())
            else:
                keep = is_image_path(name)
            (found if keep else ignored).append(rel)
    return sorted(found), sorted(ignored)


def _targets(inputs: list[str], out_dir: Path, request: Request) -> list[str]:
    """Output paths relative to ``out_dir``; raises when two inputs would share one."""
    targets: list[str] = []
    owner: dict[str, str] = {}
    for rel in inputs:
        path = Path(rel)
        target = path.with_name(path.stem + request.output.suffix
                                + request.output.suffix_for(path)).as_posix()
        key = target.lower()
        if key in owner:
            raise InvalidParameterError(
                f"{owner[key]} and {rel} would both be written to {out_dir / target}; use "
                "--format same, or move one of them"
            )
        owner[key] = rel
        targets.append(target)
    return targets


def _action(
    record: Record | None, job: Job, target: str, phash: str, out_dir: Path, *,
    retry_failed: bool,
) -> tuple[Action, str]:
    if record is None:
        return "new", "not in the manifest"
    if record.sha256 != job.sha256:
        return "redo", "the input changed since it was restored"
    if record.params_hash != phash:
        return "redo", "the restore parameters changed"
    if record.status == "started":
        return "redo", "it was in flight when an earlier run stopped"
    if record.status == "failed":
        if retry_failed:
            return "retry", f"failed before: {record.error}"
        return "failed-before", record.error or "failed before"
    if record.output != target or not (out_dir / target).is_file():
        return "redo", "the output is missing"
    return "skip", "already restored with these parameters"


def _refusal(out_dir: Path, target: str, written: set[str], *, overwrite: bool) -> str | None:
    """Why an output may not be written, or ``None``: it would land outside ``out_dir``
    through a symbolic link, or a file this batch did not write is there (replaced only with
    ``overwrite``; the batch's own earlier outputs are always replaced when redone)."""
    path = out_dir / target
    try:
        inside = path.parent.resolve().is_relative_to(out_dir.resolve())
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        return (f"the output would be written outside {out_dir} (a symbolic link in the "
                "output folder points elsewhere); not written")
    if path.is_dir():
        return None  # the writer says it: "is a directory"
    if (path.exists() or path.is_symlink()) and target not in written and not overwrite:
        return "exists and was not written by restora batch; pass --overwrite to replace it"
    return None


def remove_stale_temps(out_dir: Path) -> list[Path]:
    """Delete temp files (``.<name>.<random>.tmp``) a killed run left in ``out_dir``."""
    removed: list[Path] = []
    for root, dirs, files in os.walk(out_dir):
        dirs[:] = [d for d in dirs if d != MANIFEST_DIR]
        for name in files:
            if _TEMP.match(name):
                path = Path(root) / name
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _outputs_inside(records: list[Record], out_dir: Path, in_dir: Path) -> set[str]:
    """Outputs the manifest knows of that lie in ``in_dir``, relative to it."""
    if not records:
        return set()
    base, root = out_dir.resolve(), in_dir.resolve()
    if not base.is_relative_to(root):
        return set()
    return {(base / r.output).relative_to(root).as_posix() for r in records}


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# --- engines -----------------------------------------------------------------------------


def _cpu_count() -> int:
    """CPUs this process may use (affinity and cgroup quota)."""
    return available_cpus()


#: Local worker processes per GPU by default: while one image runs on the GPU, the other
#: process decodes its next photo and encodes its last (the GPU would idle otherwise).
GPU_WORKERS = 2


def _worker_count(engine: str, workers: int | None, restorer: Restorer) -> int:
    if workers is not None:
        return workers
    if engine != "local":
        return 0  # Ray decides from the cluster
    return GPU_WORKERS if restorer.gpu() is not None else _cpu_count()


def _threads_per_worker(workers: int) -> int | None:
    """CPU threads per image so that workers do not oversubscribe the cores."""
    if workers <= 0:
        return None
    return max(1, _cpu_count() // workers)


def _engine(name: str, request: Request, *, workers: int, threads: int | None,
            address: str | None) -> Any:
    if name == "ray":
        return RayEngine(request, workers=workers or None, threads=threads, address=address)
    return LocalEngine(request, workers=workers, threads=threads)


def _setup_error(result: Any) -> RestoraError:
    """The worker's method/model setup error, re-raised in the driver with its type."""
    kind = getattr(errors, result.error_type or "", None)
    if isinstance(kind, type) and issubclass(kind, RestoraError):
        try:
            return kind(result.error)
        except TypeError:  # ImageError subclasses take (path, problem)
            return kind(None, result.error)
    return RestoraError(result.error)
