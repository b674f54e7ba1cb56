"""The FastAPI application behind ``restora serve``: the page at ``/`` and the API under ``/api``.

API (OpenAPI document at ``/api/openapi.json``; no CDN-served doc pages):

- ``POST /api/jobs``: multipart upload (``files``, one or more) + options -> 202, job id;
  with ``merge`` the files are frames of one scene, fused or merged into one result.
- ``GET /api/jobs/{id}``: status, per-image progress, what automatic mode detected and did.
- ``GET /api/jobs/{id}/events``: the same as server-sent events until the job finishes.
- ``GET /api/jobs/{id}/results/{index}``, ``GET /api/jobs/{id}/results.zip``: downloads.
- ``DELETE /api/jobs/{id}``: cancel and delete. ``GET /api/methods``, ``GET /api/health``.

Errors are JSON ``{"detail": "..."}``: 4xx for anything a client can cause (bad image,
bad option, too large, unknown job), 503 + ``Retry-After`` when the queue is full, 500 only
for bugs.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import secrets
import sys
import typing
from contextlib import asynccontextmanager
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

import restora
from restora import zoo
from restora.auto import NOISE_THRESHOLD
from restora.defaults import pick, table_rows
from restora.errors import (
    DecompressionBombError,
    ImageReadError,
    InvalidParameterError,
    RestoraError,
    UnsupportedFormatError,
)
from restora.methods import list_methods
from restora.options import ALL_GROUPS, FORMATS, TASKS
from restora.options import Request as RestoreRequest
from restora.web.jobs import JobManager, JobNotFoundError, ServerBusyError
from restora.web.settings import ServerSettings, is_loopback
from restora.weights import DEFAULT_WEIGHTS

STATIC = Path(__file__).parent / "static"
_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp",
                ".tif": "image/tiff"}
_STATUS = {JobNotFoundError: 404, ServerBusyError: 503, DecompressionBombError: 413,
           UnsupportedFormatError: 415, ImageReadError: 400}
_PUBLIC_API = {"/api/health", "/api/openapi.json"}


# --- response models (for the OpenAPI document) ----------------------------------------------


class ImageOut(BaseModel):
    index: int
    name: str
    format: str
    width: int
    height: int
    status: str
    progress: float
    detected: dict[str, Any] | None = None
    decision: str | None = None
    method: str | None = None
    error: str | None = None
    output_name: str | None = None
    seconds: float | None = None
    mp_per_s: float | None = None  # input megapixels per second (so far, then overall)
    eta_s: float | None = None  # seconds left while running


class JobOut(BaseModel):
    id: str
    status: str
    created: float
    finished: float | None = None
    expires: float | None = None
    options: dict[str, Any]
    progress: float
    images: list[ImageOut]
    frames: list[str] | None = None


class MethodOut(BaseModel):
    name: str
    task: str
    tasks: list[str]
    description: str
    needs_sigma: bool
    needs_kernel: bool
    scales: list[int]
    channels: list[int]
    citation: str | None = None
    default: bool


class MethodsOut(BaseModel):
    tasks: list[str]
    defaults: dict[str, dict[str, str]]
    formats: list[str]
    models: list[str]
    auto_sigma_threshold: float
    limits: dict[str, float]
    methods: list[MethodOut]


class HealthOut(BaseModel):
    status: str
    version: str
    workers: int
    queued: int
    jobs: int


# --- guard: host, origin, token, body size ---------------------------------------------------


class _Guard:
    """ASGI middleware applied before routing.

    - Host header must be a loopback name when the server listens on loopback (stops DNS
      rebinding from web pages); - unsafe methods with an ``Origin`` of another site are
      refused (stops cross-site form posts); - ``Authorization: Bearer <token>`` is required
      on ``/api`` (except health and the OpenAPI document) when a token is set; - request
      bodies above ``max_upload_mb`` get 413, by ``Content-Length`` or while streaming.
    """

    def __init__(self, app: Any, settings: ServerSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        problem = self._check(scope, headers)
        if problem is not None:
            status, detail = problem
            extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            await JSONResponse({"detail": detail}, status_code=status, headers=extra)(
                scope, receive, send)
            return
        limit = self.settings.max_upload_bytes
        seen = 0

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, self._too_large())
            return message

        await self.app(scope, limited_receive, send)

    def _too_large(self) -> str:
        return (f"upload too large: the server accepts at most {self.settings.max_upload_mb:g} "
                "MiB per request (restora serve --max-upload-mb)")

    def _check(self, scope: dict, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if is_loopback(self.settings.host) and not is_loopback(_hostname(host)):
            return 400, (f"unexpected Host header {host!r}: this server listens on loopback "
                         "and answers only to localhost / 127.0.0.1")
        method = scope.get("method", "GET")
        origin = headers.get("origin")
        unsafe = method not in ("GET", "HEAD", "OPTIONS")
        if unsafe and origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            return 403, f"cross-origin request from {origin} refused"  # 'null' included
        path = scope.get("path", "")
        if self.settings.token and path.startswith("/api/") and path not in _PUBLIC_API:
            given = headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(
                value.strip().encode(), self.settings.token.encode()
            ):
                return 401, ("missing or wrong token: send the header 'Authorization: Bearer "
                             "<token>' with the token given to restora serve --token")
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.settings.max_upload_bytes:
            return 413, self._too_large()
        return None


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1:].split("]")[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


# --- the application ---------------------------------------------------------------------------


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """Build the app; its :class:`JobManager` starts with the app and stops (deleting every
    stored file) when the app shuts down. ``app.state.jobs`` is the manager."""
    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        app.state.jobs = manager = JobManager(settings)
        if manager.notice:
            print(f"restora serve: {manager.notice}", file=sys.stderr)
        elif manager.store is not None:
            answered, lost = manager.restored
            print(f"restora serve: jobs kept in {manager.store.folder}"
                  + (f" ({answered} finished job(s) from an earlier run; {lost} unfinished "
                     "job(s) marked lost)" if answered or lost else ""), file=sys.stderr)
        try:
            yield
        finally:
            app.state.jobs.close()

    app = FastAPI(
        title="restora",
        version=restora.__version__,
        description="Restore photos (denoise, upscale, deblur) on this machine.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.add_middleware(_Guard, settings=settings)
    _add_error_handlers(app)
    _add_routes(app, settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RestoraError)
    async def restora_error(request: Request, exc: RestoraError) -> JSONResponse:
        status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 400)
        headers = {"Retry-After": "5"} if status == 503 else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
        return JSONResponse({"detail": "invalid request: " + "; ".join(parts)}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        if out_of_resources(exc):  # the machine, not the request: the client may retry
            return JSONResponse({"detail": "the server is short of memory or threads; retry "
                                           "in a moment"}, status_code=503,
                                headers={"Retry-After": "10"})
        return JSONResponse({"detail": f"internal server error ({type(exc).__name__})"},
                            status_code=500)


def out_of_resources(exc: BaseException) -> bool:
    """``MemoryError`` or "can't start new thread" (and OS errors for lack of memory or
    processes): a temporary shortage, answered 503 + Retry-After rather than 500."""
    import errno

    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.ENOMEM, errno.EAGAIN)


def _default_name(task: str) -> str | None:
    """The method the default table runs for colour images of ``task`` (or ``None``)."""
    try:
        chosen = pick(task, channels=3, scale=4 if task == "upscale" else None)
    except InvalidParameterError:
        return None
    return chosen.method


def _form_signature() -> inspect.Signature:
    """The job form: ``files``, ``mask`` and one form field per web option of the request
    (:mod:`restora.options` fields marked ``web``), with its help text."""
    params = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("files", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[
            list[UploadFile], File(description="One or more images (JPEG, PNG, TIFF, WebP, BMP, HEIC).")]),
        inspect.Parameter("mask", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
            UploadFile | None, File(description="Inpainting mask image (white = pixels to fill).")]),
    ]
    for group in ALL_GROUPS:
        hints = typing.get_type_hints(group)
        for f in fields(group):
            if not f.metadata["web"] or f.name == "mask":
                continue
            hint = hints[f.name]
            kind = hint if hint in (int, float, str, bool) else (
                next((t for t in typing.get_args(hint) if t in (int, float)), str) | None)
            params.append(inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                annotation=Annotated[kind, Form(description=f.metadata["help"])]))
    return inspect.Signature(params)


def _add_routes(app: FastAPI, settings: ServerSettings) -> None:
    def jobs(request: Request) -> JobManager:
        return request.app.state.jobs

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/api/health", response_model=HealthOut, tags=["server"])
    def health(request: Request) -> dict:
        """Liveness and load: queued jobs, stored jobs. Needs no token."""
        manager = jobs(request)
        return {"status": "ok", "version": restora.__version__, "workers": settings.workers,
                "queued": manager.queued, "jobs": len(manager)}

    @app.get("/api/methods", response_model=MethodsOut, tags=["server"])
    def methods() -> dict:
        """Registered methods, the default per task (gray / colour), formats and limits."""
        return {
            "tasks": list(TASKS),
            "defaults": {task: {"gray": gray, "colour": colour}
                         for task, gray, colour in table_rows()},
            "formats": list(FORMATS),
            "models": [card.name for card in DEFAULT_WEIGHTS]
                      + [e.name for e in zoo.pulled() if not e.needs_opt_in],  # no downloads here
            "auto_sigma_threshold": NOISE_THRESHOLD,
            "limits": {"max_upload_mb": settings.max_upload_mb, "max_files": settings.max_files,
                       "max_pixels": settings.max_pixels, "result_ttl": settings.result_ttl},
            "methods": [
                {"name": m.name, "task": m.task, "tasks": list(m.tasks),
                 "description": m.description, "needs_sigma": m.needs_sigma,
                 "needs_kernel": m.needs_kernel, "scales": list(m.scales),
                 "channels": list(m.channels), "citation": m.citation,
                 "default": any(_default_name(t) == m.name for t in m.tasks)}
                for m in list_methods()
            ],
        }

    def submit(request: Request, **form: Any) -> dict:
        """Upload images and start a job; poll ``GET /api/jobs/{id}`` for progress.

        The options are those of ``restora restore`` (same names and defaults; task ``auto``
        inspects each photo). ``mask``: an inpainting mask (white = pixels to fill) for
        every image of the job. ``merge`` (fuse | burst | ...): the photos are frames of one
        scene and the job has one result, as ``restora fuse`` / ``restora burst`` make
        (``times``, ``align``, ``reference``, ... as there; no ``hdr`` file). Server file
        paths are never accepted: ``kernel`` is a spec, ``model`` the name of a shipped
        weight set.
        """
        files, mask = form.pop("files"), form.pop("mask", None)
        sent = getattr(request, "_form", None) or {}  # the parsed body: refuse unknown fields
        unknown = sorted(set(sent.keys()) - set(form) - {"files", "mask"})
        if unknown:
            raise InvalidParameterError(
                f"unknown option(s) {', '.join(unknown)}; a job takes: {', '.join(form)} "
                "(how jobs run is the server's setting: restora serve --device ...)")
        values = {k: v for k, v in form.items() if v not in (None, "")}
        job_request = RestoreRequest.from_mapping(values, untrusted=True, source="job options",
                                                  frames=True)
        upload = None if mask is None else (mask.filename, mask.file)
        job = jobs(request).submit(((f.filename, f.file) for f in files), job_request, upload)
        return job.to_dict(settings)

    submit.__signature__ = _form_signature()  # type: ignore[attr-defined]
    app.post("/api/jobs", status_code=202, response_model=JobOut, tags=["jobs"],
             responses={400: {"description": "bad image or option"},
                        413: {"description": "upload or image too large"},
                        415: {"description": "unsupported image format"},
                        503: {"description": "queue full; retry later"}})(submit)

    @app.get("/api/jobs/{job_id}", response_model=JobOut, tags=["jobs"],
             responses={404: {"description": "no such job"}})
    def job_status(request: Request, job_id: str) -> dict:
        """Status, per-image progress, and what automatic mode detected and decided."""
        return jobs(request).get(job_id).to_dict(settings)

    @app.delete("/api/jobs/{job_id}", status_code=204, tags=["jobs"],
                responses={404: {"description": "no such job"}})
    def delete_job(request: Request, job_id: str) -> Response:
        """Cancel a job and delete its files now."""
        jobs(request).delete(job_id)
        return Response(status_code=204)

    @app.get("/api/jobs/{job_id}/events", tags=["jobs"],
             responses={200: {"content": {"text/event-stream": {}}}, 404: {"description": "no such job"}})
    async def job_events(request: Request, job_id: str) -> StreamingResponse:
        """Server-sent events: a ``progress`` event with the job on every change, then ``done``."""
        manager = jobs(request)
        manager.get(job_id)  # 404 before the stream starts

        async def stream():  # type: ignore[no-untyped-def]
            last, idle = -1, 0.0
            while not await request.is_disconnected():
                try:
                    job = manager.get(job_id)
                except JobNotFoundError:
                    yield "event: gone\ndata: {}\n\n"
                    return
                if job.version != last:
                    last, idle = job.version, 0.0
                    finished = job.finished is not None
                    data = json.dumps(job.to_dict(settings))
                    yield f"event: {'done' if finished else 'progress'}\ndata: {data}\n\n"
                    if finished:
                        return
                elif idle >= 15:
                    idle = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(0.2)
                idle += 0.2

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @app.get("/api/jobs/{job_id}/results/{index}", tags=["jobs"], response_class=FileResponse,
             responses={200: {"content": {"image/png": {}}}, 400: {"description": "not ready"},
                        404: {"description": "no such job or image"}})
    def result(request: Request, job_id: str, index: int) -> FileResponse:
        """The restored image ``index`` (0-based) as an attachment."""
        image = jobs(request).result(job_id, index)
        assert image.output_path is not None
        return FileResponse(image.output_path, filename=image.output_name,
                            media_type=_MEDIA_TYPES.get(image.output_path.suffix,
                                                        "application/octet-stream"))

    @app.get("/api/jobs/{job_id}/results.zip", tags=["jobs"], response_class=FileResponse,
             responses={200: {"content": {"application/zip": {}}}, 400: {"description": "nothing ready"},
                        404: {"description": "no such job"}})
    def results_zip(request: Request, job_id: str) -> FileResponse:
        """Every finished image of the job in one ZIP file."""
        path = jobs(request).zip_results(job_id)
        return FileResponse(path, filename="restored.zip", media_type="application/zip")
