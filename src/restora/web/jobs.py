"""Restoration jobs for the web server: a bounded queue, worker threads, private storage.

A job is one upload of one or more images with one set of options. Files live under a
private temporary folder (mode 0700) with server-made names only (``<n>/in-<i>``,
``<n>/out-<i>.<ext>``); the client's file name is kept only as a sanitised display name for
downloads. Finished jobs are deleted after ``result_ttl`` seconds, or earlier (oldest first)
when the stored bytes exceed ``max_results_mb``.

Memory: each job reserves, before anything is decoded, what decoding and restoring its
images will allocate (:func:`job_memory`, from the headers, with the CLI's estimate
:func:`restora.io._sniff.decode_bytes`); queued and running jobs together stay within
``max_memory_mb`` (503 + Retry-After when a job does not fit now, 413 when it never could).

With a ``data_dir`` the job list is kept in SQLite (:mod:`restora.web.store`): a restarted
server answers for its finished jobs and reports the unfinished ones as lost.
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from restora.errors import (
    DecodeBudgetError,
    ImageError,
    InvalidParameterError,
    RestoraError,
)
from restora.io import image_info, read_image
from restora.io._sniff import check_pixels, decode_bytes
from restora.options import AUTO, Request
from restora.pipeline.progress import Meter
from restora.run import Restorer
from restora.web.settings import ServerSettings
from restora.web.store import DataFolderBusyError, JobStore

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
#: The request fields a job reports back (what the web form may set).
_SHOWN = ("task", "method", "model", "sigma", "scale", "kernel", "quality", "seed", "bayer",
          "format", "bit_depth", "jpeg_quality", "merge", "times", "align", "reference",
          "deghost", "tonemap", "denoise")


class ServerBusyError(RestoraError):
    """The job queue or the result storage is full; the client should retry later."""


class ImageTimeLimitError(RestoraError):
    """An image ran past the server's ``max_image_seconds``."""


class JobNotFoundError(RestoraError):
    """No job with that id (never existed, expired, or deleted)."""


#: The error of an image whose job was queued or running when the server stopped.
LOST = ("lost: the server stopped (or was killed) before this image was restored; its upload "
        "was deleted. Submit it again")


def job_memory(width: int, height: int, channels: int, bit_depth: int, scale: int = 1) -> int:
    """Bytes restoring one image may allocate: its decode and the float32 pipeline copies
    (:func:`restora.io._sniff.decode_bytes`, the CLI's decode budget estimate) plus, when it
    is upscaled, the float32 output and a working copy of it and the encoded samples."""
    sample = max(1, bit_depth // 8)
    need = decode_bytes(width, height, max(channels, 1), sample)
    if scale > 1:
        need += width * height * scale * scale * max(channels, 1) * (2 * 4 + sample)
    return need


def _size(value: int) -> str:
    return f"{value / 2**30:.2f} GiB" if value >= 2**28 else f"{value / 2**20:.0f} MiB"


class MemoryPool:
    """The memory that queued and running jobs have reserved, within one budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._lock = threading.Lock()

    def grow(self, held: list[int], need: int, name: str, what: str = "") -> None:
        """Raise the reservation ``held[0]`` to ``need`` bytes, or raise: DecodeBudgetError
        (413) when ``need`` exceeds the whole budget, ServerBusyError (503) when it does not
        fit beside the jobs in progress. ``what``: the image's size, for the messages."""
        if need <= held[0]:
            return
        if need > self.budget:
            raise DecodeBudgetError(
                name, f"{what}restoring it needs about {_size(need)} of memory, more than "
                f"the server's budget for jobs ({_size(self.budget)}; restora serve "
                "--max-memory-mb). Send a smaller image")
        with self._lock:
            if self.used - held[0] + need > self.budget:
                raise ServerBusyError(
                    f"the server is busy: {name} ({what.rstrip(': ')}) needs about "
                    f"{_size(need)} of memory and jobs "
                    f"in progress hold {_size(self.used)} of the {_size(self.budget)} budget "
                    "(restora serve --max-memory-mb). Try again in a few seconds.")
            self.used += need - held[0]
            held[0] = need

    def release(self, held: list[int]) -> None:
        with self._lock:
            self.used -= held[0]
            held[0] = 0


@dataclass
class ImageState:
    """One image of a job, as the API reports it. ``mp_per_s``: input megapixels restored
    per second so far (then overall); ``eta_s``: seconds left while it runs."""

    index: int
    name: str
    input_path: Path
    format: str
    width: int
    height: int
    status: str = "queued"  # queued | running | done | failed | cancelled
    progress: float = 0.0
    detected: dict[str, Any] | None = None
    decision: str | None = None
    method: str | None = None
    error: str | None = None
    output_path: Path | None = None
    output_name: str | None = None
    output_bytes: int = 0
    seconds: float | None = None
    mp_per_s: float | None = None
    eta_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "name": self.name, "format": self.format,
            "width": self.width, "height": self.height, "status": self.status,
            "progress": round(self.progress, 4), "detected": self.detected,
            "decision": self.decision, "method": self.method, "error": self.error,
            "output_name": self.output_name, "seconds": self.seconds,
            "mp_per_s": self.mp_per_s, "eta_s": self.eta_s,
        }


@dataclass
class Job:
    """A submitted job. ``version`` grows on every change (for event streams)."""

    id: str
    folder: Path
    request: Request
    images: list[ImageState]
    created: float = field(default_factory=time.time)
    finished: float | None = None
    cancelled: bool = False
    version: int = 0
    input_bytes: int = 0
    #: The uploaded frames of a job that merges them (``request.frames.merge``); its one
    #: entry in ``images`` is the merged photo.
    frames: list[ImageState] = field(default_factory=list)
    #: Bytes of memory reserved for the job (one-item list, shared with the pool).
    memory: list[int] = field(default_factory=lambda: [0])
    #: The options shown for a job restored from the data folder (its request is not kept).
    saved_options: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        states = {im.status for im in self.images}
        if self.cancelled:
            return "cancelled"
        if states <= {"queued"}:
            return "queued"
        if states & {"queued", "running"}:
            return "running"
        return "failed" if states == {"failed"} else "done"

    def options(self) -> dict[str, Any]:
        if self.saved_options is not None:
            return self.saved_options
        return ({k: v for k, v in self.request.to_dict().items() if k in _SHOWN}
                | {"mask": self.request.params.mask is not None})

    @property
    def stored_bytes(self) -> int:
        return self.input_bytes + sum(im.output_bytes for im in self.images)

    def to_dict(self, settings: ServerSettings) -> dict[str, Any]:
        expires = None if self.finished is None else self.finished + settings.result_ttl
        return {
            "id": self.id, "status": self.status, "created": self.created,
            "finished": self.finished, "expires": expires,
            "options": self.options(),
            "progress": round(sum(im.progress for im in self.images) / len(self.images), 4),
            "images": [im.to_dict() for im in self.images],
            "frames": [im.name for im in self.frames] or None,
        }


def display_name(client_name: str | None, index: int) -> str:
    """A safe display name from a client's file name: no folders, ASCII, at most 80 chars."""
    base = re.split(r"[/\\]", client_name or "")[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")[:80]
    return base or f"image-{index + 1}"


def output_name(name: str, suffix: str) -> str:
    """``holiday.jpg`` -> ``holiday_restored.png`` (``suffix``: the output file's)."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem}_restored{suffix}"


TEMP_PREFIX = "restora-web-"
#: The server process that owns a temporary folder (its pid), written when the folder is made.
OWNER_FILE = "server.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_folders(parent: str | Path | None = None) -> list[Path]:
    """Delete the temporary folders (users' uploads and results) of servers that died
    without cleaning up (SIGKILL, power loss): ours, with an owner pid that no longer runs.
    Returns the folders removed."""
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        try:
            if not folder.is_dir() or folder.is_symlink() or folder.stat().st_uid != os.getuid():
                continue
            pid = int((folder / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class JobManager:
    """Bounded job queue + worker threads + private storage with expiry.

    ``submit`` validates every image (format sniffed from content, pixel count from the
    header, full decode to catch truncated data) before queueing, so bad input is refused
    at once with a :class:`RestoraError`; a full queue raises :class:`ServerBusyError`.
    """

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.removed_stale = remove_stale_folders()
        self.store: JobStore | None = None
        #: Why the data folder was not used (another server holds it), for the log.
        self.notice: str | None = None
        if settings.data_dir is not None:
            try:
                self.store = JobStore(Path(settings.data_dir).expanduser())
            except DataFolderBusyError as exc:
                if not settings.data_dir_fallback:
                    raise
                self.notice = f"{exc}; jobs are kept in a temporary folder until this server stops"
        if self.store is not None:
            self.root = self.store.folder / "jobs"
            self.root.mkdir(mode=0o700, exist_ok=True)
        else:
            self.root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
            os.chmod(self.root, 0o700)
            (self.root / OWNER_FILE).write_text(f"{os.getpid()}\n")
        self.memory = MemoryPool(settings.max_memory_bytes)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job] = queue.Queue(maxsize=settings.queue_size)
        self._counter = 0
        #: Jobs found in the data folder at start: (answered again, reported lost).
        self.restored = (0, 0)
        if self.store is not None:
            self.restored = self._restore()
        self._stop = threading.Event()
        # decoding to validate uploads happens in request threads: bound how many at once
        self._validating = threading.BoundedSemaphore(max(2, settings.workers))
        self._threads = [
            threading.Thread(target=self._work, name=f"restora-worker-{i}", daemon=True)
            for i in range(settings.workers)
        ]
        self._threads.append(threading.Thread(target=self._janitor, name="restora-janitor",
                                              daemon=True))
        for thread in self._threads:
            thread.start()

    # --- submission -------------------------------------------------------------------------

    def submit(self, files: Iterable[tuple[str | None, IO[bytes]]], request: Request,
               mask: tuple[str | None, IO[bytes]] | None = None) -> Job:
        """Store, validate and queue the uploaded ``(client name, stream)`` pairs; ``mask``:
        an inpainting mask image for every image of the job (white = fill)."""
        files = list(files)
        if not files:
            raise InvalidParameterError("no image uploaded: send one or more files in 'files'")
        if len(files) > self.settings.max_files:
            raise InvalidParameterError(
                f"{len(files)} files in one job; the server takes at most "
                f"{self.settings.max_files} (start restora serve with a higher --max-files)"
            )
        Restorer(request.choice, self.settings.execution).check()
        if self._queue.full():
            raise ServerBusyError(self._busy_message())
        with self._lock:
            self._counter += 1
            folder = self.root / f"{self._counter:08d}"
        folder.mkdir(mode=0o700)
        held = [0]  # bytes of memory reserved for this job
        try:
            if mask is not None:
                request = replace(request, params=replace(
                    request.params, mask=self._store_mask(folder, mask, held)))
            images, size = self._store(folder, files, request, held)
            merged = self._merged(images, request)
            self._make_room(size)
            job = Job(id=secrets.token_urlsafe(18), folder=folder, request=request,
                      images=images if merged is None else [merged], input_bytes=size,
                      frames=[] if merged is None else images, memory=held)
            with self._lock:
                self._jobs[job.id] = job
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                with self._lock:
                    del self._jobs[job.id]
                raise ServerBusyError(self._busy_message()) from None
            self._persist(job)
        except BaseException:
            self.memory.release(held)
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return job

    @staticmethod
    def _merged(images: list[ImageState], request: Request) -> ImageState | None:
        """The one result of a job that merges its photos (``merge`` fuse | burst ...), after
        checking them (two or more, one size); ``None`` for a job of single photos."""
        frames = request.frames
        if frames.kind is None:
            if frames.changed():
                raise InvalidParameterError(
                    f"{', '.join(frames.changed())} apply to jobs that merge their photos; "
                    "set merge (fuse | burst | ...)")
            return None
        if len(images) < 2:
            raise InvalidParameterError(
                f"merge {frames.merge!r} needs at least 2 photos of one scene; got {len(images)}")
        first = images[0]
        for image in images[1:]:
            if (image.width, image.height) != (first.width, first.height):
                raise InvalidParameterError(
                    f"{image.name}: {image.width}x{image.height} pixels, but {first.name} is "
                    f"{first.width}x{first.height}; frames of one scene must have one size")
        if frames.reference is not None and frames.reference >= len(images):
            raise InvalidParameterError(
                f"reference {frames.reference}: there are {len(images)} photos, numbered 0 to "
                f"{len(images) - 1}")
        ref = images[frames.reference or 0]
        stem = first.name.rsplit(".", 1)[0] if "." in first.name else first.name
        return ImageState(index=0, name=f"{stem} + {len(images) - 1} more ({frames.kind})",
                          input_path=ref.input_path, format=ref.format, width=ref.width,
                          height=ref.height)

    def _busy_message(self) -> str:
        return (
            f"the server is busy: {self.settings.queue_size} jobs are already waiting. "
            "Try again in a few seconds."
        )

    def _reserve(self, path: Path, name: str, held: list[int], *, scale: int = 1,
                 extra: int = 0) -> int:
        """Reserve the memory restoring ``path`` needs (from its header, nothing decoded)
        on top of ``extra`` bytes; returns the image's own need."""
        try:
            info = image_info(path)
            check_pixels(path, info["width"], info["height"], self.settings.max_pixels)
        except ImageError as exc:
            raise type(exc)(name, exc.problem) from None
        width, height = info["width"], info["height"]
        need = job_memory(width, height, info["channels"], info["bit_depth"], scale)
        what = f"{width}x{height} pixels x {info['channels']} channel(s) x {info['bit_depth']} bits: "
        self.memory.grow(held, max(held[0], extra + need), name, what)
        return need

    def _store_mask(self, folder: Path, mask: tuple[str | None, IO[bytes]],
                    held: list[int]) -> Path:
        path = folder / "mask"
        with open(path, "wb") as fh:
            shutil.copyfileobj(mask[1], fh, 1 << 20)
        self._reserve(path, display_name(mask[0], 0), held)
        try:
            with self._validating:
                read_image(path, max_pixels=self.settings.max_pixels)
        except ImageError as exc:
            raise type(exc)(display_name(mask[0], 0), exc.problem) from None
        return path

    def _store(self, folder: Path, files: list[tuple[str | None, IO[bytes]]],
               request: Request, held: list[int]) -> tuple[list[ImageState], int]:
        images: list[ImageState] = []
        total = 0
        limit = self.settings.max_pixels
        scale = request.params.scale or 1 if request.choice.task in ("upscale", AUTO) else 1
        merging = request.frames.kind is not None
        frames_need = 0  # a merge holds every frame at once; single photos run one by one
        for i, (client_name, stream) in enumerate(files):
            name = display_name(client_name, i)
            path = folder / f"in-{i}"
            with open(path, "wb") as fh:
                shutil.copyfileobj(stream, fh, 1 << 20)
            total += path.stat().st_size
            frames_need += self._reserve(path, name, held, scale=1 if merging else scale,
                                         extra=frames_need if merging else 0)
            try:
                with self._validating:
                    photo = read_image(path, max_pixels=limit)
            except ImageError as exc:
                # the message would name our private file: name the upload instead
                raise type(exc)(name, exc.problem) from None
            height, width = photo.height, photo.width
            scale = request.params.scale or 1
            out_pixels = width * height * scale**2
            if request.choice.task in ("upscale", AUTO) and out_pixels > limit:
                raise InvalidParameterError(
                    f"{name}: upscaling {width}x{height} by {scale} gives {out_pixels} "
                    f"pixels, more than the server's limit of {limit} (--max-pixels)"
                )
            images.append(ImageState(index=i, name=name, input_path=path,
                                     format=photo.format or "?", width=width, height=height))
            del photo
        return images, total

    # --- queries ----------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFoundError(
                "no such job: the id is wrong, or the job expired and its files were deleted "
                f"(results are kept {self.settings.result_ttl:g} s)"
            )
        return job

    def result(self, job_id: str, index: int) -> ImageState:
        """The finished image ``index`` of a job; raises when it is not ready or failed."""
        job = self.get(job_id)
        if not 0 <= index < len(job.images):
            raise JobNotFoundError(
                f"job has {len(job.images)} image(s); result index {index} does not exist "
                f"(indices start at 0)"
            )
        image = job.images[index]
        if image.status != "done" or image.output_path is None:
            detail = f": {image.error}" if image.error else ""
            raise InvalidParameterError(f"image {index} ({image.name}) is {image.status}{detail}")
        return image

    def zip_results(self, job_id: str) -> Path:
        """A ZIP (stored, not deflated: images are compressed already) of the finished images."""
        job = self.get(job_id)
        done = [im for im in job.images if im.status == "done" and im.output_path is not None]
        if not done:
            raise InvalidParameterError(f"job {job.status}: no finished image to download yet")
        target = job.folder / f"results-{job.version}.zip"
        if not target.exists():
            used: set[str] = set()
            partial = target.with_suffix(".part")
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
                for im in done:
                    name = _unique(im.output_name or f"image-{im.index + 1}.png", used)
                    archive.write(im.output_path, name)  # type: ignore[arg-type]
            partial.replace(target)
        return target

    def delete(self, job_id: str) -> None:
        """Cancel a job (images not started are skipped) and delete its files."""
        job = self.get(job_id)
        job.cancelled = True
        self._remove(job)

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    # --- workers ----------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._queue.get(timeout=0.25)
            except queue.Empty:
                continue
            restorer = Restorer(job.request.choice, self.settings.execution)  # networks: cached
            try:
                for image in job.images:
                    if job.cancelled or self._stop.is_set():
                        image.status = "cancelled"
                        continue
                    self._run_image(job, image, restorer)
                    self._persist(job)
            finally:
                self.memory.release(job.memory)
            job.finished = time.time()
            job.version += 1
            if self.store is not None and not job.cancelled:
                self._drop_uploads(job)
            self._persist(job)

    def _run_image(self, job: Job, image: ImageState, restorer: Restorer) -> None:
        """Restore one uploaded image through the runner, as ``restora restore`` does."""
        request = job.request
        image.status = "running"
        job.version += 1
        start = time.perf_counter()
        meter = Meter(image.width * image.height / 1e6)
        limit = self.settings.max_image_seconds

        def progress(done: int, total: int) -> None:
            if limit is not None and time.perf_counter() - start > limit and done < total:
                raise ImageTimeLimitError(
                    f"{image.name}: stopped after {limit:g} s, the server's limit per image "
                    f"(restora serve --max-image-seconds); {100 * done / max(total, 1):.0f}% "
                    "was done and nothing was written. Send a smaller image or another method")
            image.progress = 0.05 + 0.9 * done / max(total, 1)
            speed = meter(done, total)
            if speed.megapixels_per_s is not None and speed.eta_s is not None:
                image.mp_per_s, image.eta_s = round(speed.megapixels_per_s, 3), round(speed.eta_s, 1)
            job.version += 1

        def on_plan(plan: Any) -> None:
            image.detected = dict(plan.detected)
            job.version += 1

        try:
            suffix = request.output.suffix_for(image.input_path, image.format)
            target = job.folder / f"out-{image.index}{suffix}"
            if job.frames:  # several photos of one scene -> this one
                _, report = restorer.run_frames_file(
                    [f.input_path for f in job.frames], target, request.frames, request.params,
                    request.output, progress=progress)
            else:
                _, report = restorer.run_file(image.input_path, target, request.params,
                                              request.output, progress=progress, on_plan=on_plan)
            image.method = report.runs
            image.decision = report.decision
            if image.detected is None and report.sigma is not None:
                image.detected = {"noise_sigma": report.sigma}
            image.output_path = target
            image.output_name = output_name(image.name, suffix) if not job.frames else \
                output_name(job.frames[0].name, suffix).replace("_restored", f"_{request.frames.kind}")
            image.output_bytes = target.stat().st_size
            image.progress = 1.0
            image.status = "done"
        except RestoraError as exc:
            message = str(exc)
            for known in job.frames or [image]:  # our private file names -> the uploads' names
                message = message.replace(str(known.input_path), known.name)
            image.status, image.error = "failed", message
        except MemoryError:
            image.status, image.error = "failed", "not enough memory on the server for this image"
        except Exception as exc:  # noqa: BLE001  (a bug: report it on the image, keep the worker)
            image.status, image.error = "failed", f"internal error ({type(exc).__name__})"
        image.seconds = round(time.perf_counter() - start, 3)
        image.eta_s = None
        if image.status == "done" and image.seconds > 0:
            image.mp_per_s = round(image.width * image.height / 1e6 / image.seconds, 3)
        job.version += 1

    # --- storage ----------------------------------------------------------------------------

    def _janitor(self) -> None:
        period = min(max(self.settings.result_ttl / 4, 0.05), 10.0)
        while not self._stop.wait(period):
            self.expire()

    def expire(self, now: float | None = None) -> int:
        """Delete finished jobs older than ``result_ttl``; return how many were deleted."""
        now = time.time() if now is None else now
        with self._lock:
            old = [j for j in self._jobs.values()
                   if j.finished is not None and now - j.finished > self.settings.result_ttl]
        for job in old:
            self._remove(job)
        return len(old)

    def _make_room(self, incoming: int) -> None:
        """Delete the oldest finished jobs until ``incoming`` more bytes fit the budget."""
        budget = self.settings.max_results_bytes
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.created)
        used = sum(j.stored_bytes for j in jobs)
        for job in jobs:
            if used + incoming <= budget:
                break
            if job.finished is not None:
                used -= job.stored_bytes
                self._remove(job)
        if used + incoming > budget:
            raise ServerBusyError(
                f"the server's result storage is full ({self.settings.max_results_mb:g} MiB, "
                "--max-results-mb); try again when running jobs have finished"
            )

    def _remove(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)
        if self.store is not None:
            self.store.delete(job.id)
        shutil.rmtree(job.folder, ignore_errors=True)

    # --- the data folder (SQLite job list) --------------------------------------------------

    def _persist(self, job: Job) -> None:
        """Write the job's row (what the API reports, and where its results are)."""
        if self.store is None or job.cancelled:
            return
        images = [im.to_dict() | {"output_path": None if im.output_path is None else
                                  im.output_path.name, "output_bytes": im.output_bytes}
                  for im in job.images]
        doc = {"options": job.options(), "images": images,
               "frames": [f.name for f in job.frames]}
        self.store.save(job.id, job.folder.name, job.created, job.finished, doc)

    @staticmethod
    def _drop_uploads(job: Job) -> None:
        """Delete a finished job's uploads (results stay until the job expires)."""
        for path in [*job.folder.glob("in-*"), job.folder / "mask", *job.folder.glob("*.part")]:
            path.unlink(missing_ok=True)
        job.input_bytes = 0

    def _restore(self) -> tuple[int, int]:
        """Load the jobs of the data folder at start: finished ones are answered again (while
        not expired and their result files exist); queued or running ones are reported lost
        (:data:`LOST`), their uploads deleted. Folders no row names are removed."""
        assert self.store is not None
        now, answered, lost = time.time(), 0, 0
        known = set()
        for job_id, folder_name, created, finished, doc in self.store.rows():
            folder = self.root / Path(folder_name).name
            if finished is not None and now - finished > self.settings.result_ttl:
                self.store.delete(job_id)
                shutil.rmtree(folder, ignore_errors=True)
                continue
            images = []
            for row in doc.get("images", []):
                image = ImageState(
                    index=int(row["index"]), name=str(row["name"]), input_path=folder / "-",
                    format=str(row["format"]), width=int(row["width"]), height=int(row["height"]),
                    status=str(row["status"]), progress=float(row["progress"]),
                    detected=row.get("detected"), decision=row.get("decision"),
                    method=row.get("method"), error=row.get("error"),
                    output_name=row.get("output_name"), seconds=row.get("seconds"),
                    mp_per_s=row.get("mp_per_s"), output_bytes=int(row.get("output_bytes") or 0))
                if row.get("output_path"):
                    image.output_path = folder / Path(row["output_path"]).name
                if image.status in ("queued", "running"):
                    image.status, image.error, image.eta_s = "failed", LOST, None
                elif image.status == "done" and (image.output_path is None
                                                 or not image.output_path.is_file()):
                    image.status, image.error = "failed", ("the result file is missing from "
                                                           "the server's data folder; submit the "
                                                           "image again")
                images.append(image)
            if not images:
                self.store.delete(job_id)
                shutil.rmtree(folder, ignore_errors=True)
                continue
            was_lost = finished is None
            job = Job(id=job_id, folder=folder, request=None,  # type: ignore[arg-type]
                      images=images, created=created, finished=finished or now,
                      saved_options=doc.get("options") or {},
                      frames=[ImageState(index=i, name=str(n), input_path=folder / "-",
                                         format="?", width=0, height=0)
                              for i, n in enumerate(doc.get("frames") or [])])
            self._drop_uploads(job)
            self._jobs[job_id] = job
            known.add(folder.name)
            lost += was_lost
            answered += not was_lost
            if was_lost:
                self._persist(job)
        for folder in self.root.iterdir():
            if folder.name not in known:  # uploads of a job that never reached the list
                shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink()
        self._counter = max((int(n) for n in known if n.isdigit()), default=0)
        return answered, lost

    def close(self) -> None:
        """Stop the workers (running images finish, queued ones are cancelled); delete files."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for thread in self._threads:
            thread.join(timeout=30)
        if self.store is not None:  # finished jobs stay for the next start
            self.store.close()
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    stem, dot, suffix = name.rpartition(".")
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}.{suffix}" if dot else f"{name}-{n}"
    used.add(candidate)
    return candidate
