"""Limits and options of the restora web server (no heavy imports)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from restora.errors import InvalidParameterError
from restora.io._sniff import resolve_max_decode_bytes
from restora.options import Execution

TOKEN_ENV = "RESTORA_SERVE_TOKEN"
"""Environment variable read by ``restora serve`` when ``--token`` is not given."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerSettings:
    """What ``restora serve`` accepts and keeps.

    host / port: where uvicorn listens (loopback by default; any other host needs ``token``).
    token: bearer token required on every ``/api`` request except ``/api/health``.
    workers: worker threads running restorations (networks are loaded once per server).
    execution: how restorations run (device, precision, threads; ``restora serve --device``).
    queue_size: jobs waiting for a worker; when full, new jobs get 503 and ``Retry-After``.
    max_upload_mb: limit on one request's body (all files of a job together), in MiB.
    max_files: images in one job.
    max_pixels: pixels (width x height) per image, checked on the header before decoding.
    result_ttl: seconds a finished job and its files are kept.
    max_results_mb: total size of stored uploads and results; the oldest finished jobs are
        deleted first when it is exceeded.
    max_memory_mb: memory that queued and running jobs may reserve together, in MiB; each
        job reserves what decoding and restoring its images will allocate (the estimate of
        :func:`restora.io._sniff.decode_bytes`, the CLI's decode budget), read from the
        headers before anything is decoded. A job that does not fit now gets 503 and
        ``Retry-After``; one that could never fit, 413. ``None``: the CLI's decode budget
        (``$RESTORA_MAX_DECODE_BYTES``, else half the memory the process may use).
    max_image_seconds: wall-clock seconds one image may take; a restoration still running
        after that stops at its next tile and the image fails with a message saying so
        (its output is never written). ``None``: no limit.
    data_dir: folder for the job list (SQLite) and the jobs' files, kept across restarts:
        a restarted server answers for finished jobs and reports unfinished ones as lost.
        ``None``: a private temporary folder, deleted when the server stops.
    data_dir_fallback: when ``data_dir`` is used by another running server, use a
        temporary folder instead of failing (``restora serve`` without ``--data-dir``).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    workers: int = 2
    queue_size: int = 64
    max_upload_mb: float = 50.0
    max_files: int = 20
    max_pixels: int = 50_000_000
    result_ttl: float = 3600.0
    max_results_mb: float = 2048.0
    max_memory_mb: float | None = None
    max_image_seconds: float | None = 900.0
    data_dir: Path | None = None
    data_dir_fallback: bool = False
    execution: Execution = field(default_factory=Execution)

    def __post_init__(self) -> None:
        positive = {
            "workers": self.workers, "queue_size": self.queue_size,
            "max_upload_mb": self.max_upload_mb, "max_files": self.max_files,
            "max_pixels": self.max_pixels, "result_ttl": self.result_ttl,
            "max_results_mb": self.max_results_mb,
        }
        if self.max_memory_mb is not None:
            positive["max_memory_mb"] = self.max_memory_mb
        if self.max_image_seconds is not None:
            positive["max_image_seconds"] = self.max_image_seconds
        for name, value in positive.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise InvalidParameterError(
                    f"server setting {name} must be a positive number, got {value!r}"
                )
        if not 0 <= self.port <= 65535:
            raise InvalidParameterError(f"port must be in 0..65535, got {self.port}")
        if self.token is not None and len(self.token) < 8:
            raise InvalidParameterError(
                "the token is too short (fewer than 8 characters); use a long random string, "
                "e.g. python -c 'import secrets; print(secrets.token_urlsafe())'"
            )
        if self.token is None and not is_loopback(self.host):
            raise InvalidParameterError(
                f"refusing to listen on {self.host!r} without a token: anyone on the network "
                f"could use the server. Pass --token (or set ${TOKEN_ENV}) with a long random "
                "string, or listen on 127.0.0.1"
            )

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_results_bytes(self) -> int:
        return int(self.max_results_mb * 1024 * 1024)

    @property
    def max_memory_bytes(self) -> int:
        """The jobs' memory budget in bytes (see ``max_memory_mb``)."""
        if self.max_memory_mb is not None:
            return int(self.max_memory_mb * 1024 * 1024)
        return resolve_max_decode_bytes()
