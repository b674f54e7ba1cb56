"""The ``restora serve`` command (registered by :mod:`restora.cli`); FastAPI is imported
only when the command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restora._optional import require
from restora.cli_options import request_options
from restora.options import Execution, Request
from restora.web import create_app
from restora.web.settings import TOKEN_ENV, ServerSettings
from restora.web.store import default_data_dir

_DEFAULTS = ServerSettings()


@request_options(groups=(Execution,), exclude=("max_pixels",))
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; anything but loopback needs --token.")] = _DEFAULTS.host,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = _DEFAULTS.port,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open the page in a browser.")] = False,
    token: Annotated[str | None, typer.Option(envvar=TOKEN_ENV, show_envvar=True, help="Bearer token required on the API (required off loopback).")] = None,
    workers: Annotated[int, typer.Option(help="Images restored in parallel (worker threads).")] = _DEFAULTS.workers,
    queue_size: Annotated[int, typer.Option(help="Jobs that may wait for a worker; more get 503.")] = _DEFAULTS.queue_size,
    max_upload_mb: Annotated[float, typer.Option(help="Largest request body (all files of a job), MiB.")] = _DEFAULTS.max_upload_mb,
    max_files: Annotated[int, typer.Option(help="Images per job.")] = _DEFAULTS.max_files,
    max_pixels: Annotated[int, typer.Option(help="Largest image (width x height), checked before decoding.")] = _DEFAULTS.max_pixels,
    result_ttl: Annotated[float, typer.Option(help="Seconds results are kept after a job finishes.")] = _DEFAULTS.result_ttl,
    max_results_mb: Annotated[float, typer.Option(help="Total MiB of stored uploads and results.")] = _DEFAULTS.max_results_mb,
    max_memory_mb: Annotated[float | None, typer.Option(help="MiB that queued and running jobs may reserve (estimated from the image headers); default: the decode budget ($RESTORA_MAX_DECODE_BYTES or half the memory available).")] = None,
    max_image_seconds: Annotated[float, typer.Option(help="Seconds one image may take; a longer restoration stops at its next tile and the image fails (0: no limit).")] = _DEFAULTS.max_image_seconds or 0.0,
    data_dir: Annotated[Path | None, typer.Option(help="Folder for the job list (SQLite) and results, kept across restarts; default: the user's state folder (a temporary one if another server uses it).")] = None,
    *,
    request: Request,
) -> None:
    """Serve a local web page and HTTP API for restoring photos (extra 'web').

    Jobs run through the same runner as `restora restore`; --device, --precision, --tile
    and --threads set how.
    """
    settings = ServerSettings(
        host=host, port=port, token=token, workers=workers, queue_size=queue_size,
        max_upload_mb=max_upload_mb, max_files=max_files, max_pixels=max_pixels,
        result_ttl=result_ttl, max_results_mb=max_results_mb, max_memory_mb=max_memory_mb,
        max_image_seconds=max_image_seconds or None,
        data_dir=data_dir or default_data_dir(), data_dir_fallback=data_dir is None,
        execution=request.execution,
    )
    for module in ("fastapi", "uvicorn", "multipart"):
        require(module, extra="web", purpose="restora serve")
    import uvicorn

    app = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/"
    page = url + (f"#token={token}" if token else "")
    typer.echo(f"restora is serving on {url} (press Ctrl+C to stop)", err=True)
    if token:
        typer.echo(f"open {page} to pass the token to the page", err=True)
    if not no_browser and port != 0:
        _open_later(page)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _open_later(url: str) -> None:
    import threading
    import webbrowser

    threading.Timer(1.0, lambda: webbrowser.open(url)).start()


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the restora CLI."""
    app.command("serve")(serve)
