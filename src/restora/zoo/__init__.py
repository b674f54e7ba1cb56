"""The model zoo: published weight files by name, downloaded once, verified, with licences.

The table is data (``models.toml`` beside this file): for each model its task, scale,
channels, architecture, URLs (official, then mirrors), exact size, SHA-256 and where that
pin comes from, licence, and the published numbers. restora's own weights stay the offline
default (:mod:`restora.weights`); a zoo model runs when a user names it (``--model
drunet_color``) or, once pulled, when the automatic mode prefers it for its task
(``prefer_for``; off with ``RESTORA_ZOO_DEFAULTS=off``).

Downloads go through pooch (streamed to a temporary file in the cache folder, checked,
then renamed: never a partial file under the model's name), retried, falling back to the
mirrors; a lock file makes two processes pulling the same model share one download. The
cache folder is ``RESTORA_CACHE`` or the OS cache folder (platformdirs); with
``RESTORA_OFFLINE=1`` nothing touches the network. Non-commercial or flagged models
download only with ``accept_licence=True`` (``--accept-licence``), never as a default.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tomllib
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from restora.errors import IntegrityError, LicenceNotAcceptedError, ZooError, ZooWarning
from restora.io.atomic import file_sha256

REGISTRY_FILE = Path(__file__).with_name("models.toml")
#: Environment variables: the cache folder, offline mode, and the automatic mode's use of
#: pulled zoo models.
ENV_CACHE = "RESTORA_CACHE"
ENV_OFFLINE = "RESTORA_OFFLINE"
ENV_ZOO_DEFAULTS = "RESTORA_ZOO_DEFAULTS"
#: Attempts per URL (pooch's ``retry_if_failed`` + 1) before the next mirror.
RETRIES = 2
TIMEOUT_S = 60.0

_TASKS = ("denoise", "deblock", "upscale", "deblur")
_FIELDS = {"task", "scale", "channels", "arch", "description", "urls", "size", "sha256",
           "hash_source", "licence", "non_commercial", "licence_flag", "published", "measured",
           "prefer_for", "notes"}


@dataclass(frozen=True)
class ZooModel:
    """One published weight file (a row of ``models.toml``).

    size: exact bytes (0 = not recorded); sha256: full hex digest ("" = no record: pinned on
    the first download). prefer_for: ``"task:channels"`` the automatic mode may use it for.
    """

    name: str
    task: str
    scale: int
    channels: int
    arch: str
    description: str
    urls: tuple[str, ...]
    size: int
    sha256: str
    hash_source: str
    licence: str
    non_commercial: bool = False
    licence_flag: str = ""
    published: str = ""
    measured: str = ""
    prefer_for: str = ""
    notes: str = ""

    @property
    def file_name(self) -> str:
        """The name the file gets in the cache (the model's name + the URL's extension)."""
        suffix = Path(self.urls[0].split("?")[0]).suffix or ".pth"
        return f"{self.name}{suffix}"

    @property
    def needs_opt_in(self) -> bool:
        """Non-commercial or flagged terms: downloaded only with ``accept_licence``."""
        return self.non_commercial or bool(self.licence_flag)

    @property
    def pinned(self) -> bool:
        return bool(self.sha256)

    def url_hint(self) -> str:
        """Where the file comes from and what it must hash to (for offline users)."""
        sha, size = expected(self)
        what = f"the file from {self.urls[0]}"
        if sha:
            what += f" (sha256 {sha}" + (f", {size} bytes)" if size else ")")
        return what

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["urls"] = list(self.urls)
        return out


def _entry(name: str, raw: dict[str, Any]) -> ZooModel:
    unknown = set(raw) - _FIELDS
    if unknown or raw.get("task") not in _TASKS or not raw.get("urls"):
        raise ZooError(f"{REGISTRY_FILE}: entry {name!r} is malformed (unknown keys {sorted(unknown)}, "
                       f"task {raw.get('task')!r}, urls {raw.get('urls')!r})")
    sha = str(raw.get("sha256", "")).lower()
    if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        raise ZooError(f"{REGISTRY_FILE}: entry {name!r} has a malformed sha256 {sha!r}")
    return ZooModel(name=name, task=raw["task"], scale=int(raw.get("scale", 1)),
                    channels=int(raw.get("channels", 3)), arch=raw["arch"],
                    description=raw.get("description", ""), urls=tuple(raw["urls"]),
                    size=int(raw.get("size", 0)), sha256=sha,
                    hash_source=raw.get("hash_source", ""), licence=raw.get("licence", ""),
                    non_commercial=bool(raw.get("non_commercial", False)),
                    licence_flag=raw.get("licence_flag", ""), published=raw.get("published", ""),
                    measured=raw.get("measured", ""), prefer_for=raw.get("prefer_for", ""),
                    notes=raw.get("notes", ""))


def load_registry(path: Path | None = None) -> dict[str, ZooModel]:
    """Every zoo entry by name, from ``models.toml`` (or ``path``)."""
    if path is None:
        return dict(_registry())
    with open(path, "rb") as fh:
        return {name: _entry(name, raw) for name, raw in tomllib.load(fh).items()}


@cache
def _registry() -> dict[str, ZooModel]:
    return load_registry(REGISTRY_FILE)


_OVERRIDE: dict[str, ZooModel] | None = None


def registry() -> dict[str, ZooModel]:
    """The zoo in use (the package's table, or one set by :func:`use_registry`)."""
    return _OVERRIDE if _OVERRIDE is not None else _registry()


def use_registry(models: dict[str, ZooModel] | None) -> None:
    """Replace the table (tests point the URLs at a local server); ``None`` restores it."""
    global _OVERRIDE
    _OVERRIDE = models


def find(name: str) -> ZooModel | None:
    """The zoo entry called ``name``, or ``None``."""
    return registry().get(str(name))


def get(name: str) -> ZooModel:
    """The zoo entry called ``name``; an unknown name names the close ones."""
    entry = find(name)
    if entry is None:
        import difflib

        close = difflib.get_close_matches(str(name), list(registry()), n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `restora models list` shows them"
        raise ZooError(f"{name!r} is not a model in the zoo{hint}")
    return entry


# --- the cache folder ------------------------------------------------------------------------


def cache_root() -> Path:
    """restora's cache folder: ``$RESTORA_CACHE`` or the OS cache folder (platformdirs)."""
    root = os.environ.get(ENV_CACHE)
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("restora", appauthor=False)
    return Path(root).expanduser()


def cache_dir() -> Path:
    """Where pulled models live: ``cache_root() / "models"``."""
    return cache_root() / "models"


def offline() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}


def _pins_file() -> Path:
    return cache_dir() / "pins.json"


def _local_pins() -> dict[str, dict[str, Any]]:
    try:
        return json.loads(_pins_file().read_text())
    except (OSError, ValueError):
        return {}


def _write_pins(pins: dict[str, dict[str, Any]]) -> None:
    """Replace ``pins.json`` atomically (a temporary file beside it, then rename)."""
    tmp = _pins_file().with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(pins, indent=1, sort_keys=True))
    os.replace(tmp, _pins_file())


def expected(entry: ZooModel) -> tuple[str, int]:
    """(sha256, size) a file must have: the table's pin, else the one recorded on this
    machine at the first download ("", 0 when neither exists)."""
    if entry.sha256:
        return entry.sha256, entry.size
    pin = _local_pins().get(entry.name, {})
    return str(pin.get("sha256", "")), int(pin.get("size", 0))


def path_of(entry: ZooModel) -> Path:
    return cache_dir() / entry.file_name


def is_pulled(entry: ZooModel) -> bool:
    return path_of(entry).is_file()


def pulled() -> list[ZooModel]:
    """The zoo models present in the cache folder."""
    return [e for e in registry().values() if is_pulled(e)]


# --- download --------------------------------------------------------------------------------


def _licence_text(entry: ZooModel) -> str:
    terms = entry.licence_flag or "non-commercial use only"
    return f"{entry.name}: licence {entry.licence} ({terms})"


def check_licence(entry: ZooModel, accept_licence: bool) -> None:
    if entry.needs_opt_in and not accept_licence:
        raise LicenceNotAcceptedError(
            f"{_licence_text(entry)}: read the terms, then pass --accept-licence "
            "(accept_licence=True) to use it"
        )


def _checking_downloader(entry: ZooModel, sha256: str, size: int,
                         progress: Callable[[int, int], None] | None) -> Callable:
    """pooch's HTTP downloader, then the size and SHA-256 of the temporary file it wrote
    (pooch deletes that file when this raises)."""
    import pooch

    bar = _PoochBar(progress) if progress is not None else False
    http = pooch.HTTPDownloader(progressbar=bar, timeout=TIMEOUT_S)

    def download(url: str, output_file: Any, pooch_obj: Any) -> None:
        http(url, output_file, pooch_obj)
        got_size = os.path.getsize(output_file)
        if size and got_size != size:
            raise IntegrityError(f"{entry.name}: {url} served {got_size} bytes, expected {size}; "
                                 "the file was not kept")
        if sha256:
            got = file_sha256(Path(output_file))
            if got != sha256:
                raise IntegrityError(f"{entry.name}: {url} served sha256 {got}, expected {sha256}; "
                                     "the file was not kept")

    return download


class _PoochBar:
    """pooch's progress-bar protocol (total, update, reset, close) on a callback."""

    def __init__(self, callback: Callable[[int, int], None]) -> None:
        self.callback, self.total, self.done = callback, 0, 0

    def update(self, n: int) -> None:
        self.done += n
        self.callback(self.done, self.total)

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        pass


def pull(name: str, *, accept_licence: bool = False,
         progress: Callable[[int, int], None] | None = None) -> Path:
    """The verified local file of zoo model ``name``, downloaded first if missing.

    Tries each URL in turn (``RETRIES`` attempts each); the file appears under its name only
    once its size and SHA-256 match the pin. Without a pin the first download records one in
    the cache folder (``pins.json``) and warns. Raises :class:`ZooError` (offline and
    missing, every URL failed), :class:`IntegrityError`, :class:`LicenceNotAcceptedError`.
    """
    entry = get(name)
    check_licence(entry, accept_licence)
    target = path_of(entry)
    if target.is_file():
        return verify(entry.name)
    if offline():
        raise ZooError(
            f"{entry.name} is not downloaded and {ENV_OFFLINE} is set: put {entry.url_hint()} "
            f"at {target} or unset {ENV_OFFLINE} and run `restora models pull {entry.name}`"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(target) + ".lock"):
        if target.is_file():  # another process finished it while we waited
            return verify(entry.name)
        return _download(entry, target, progress)


def _download(entry: ZooModel, target: Path, progress: Callable[[int, int], None] | None) -> Path:
    if progress is None:
        with _terminal_bar(entry) as bar:
            return _download_from_urls(entry, target, bar)
    return _download_from_urls(entry, target, progress)


@contextmanager
def _terminal_bar(entry: ZooModel) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich download bar on stderr while a terminal watches; ``None`` otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich import progress as rp

    columns = (rp.TextColumn("{task.description}"), rp.BarColumn(), rp.DownloadColumn(),
               rp.TransferSpeedColumn(), rp.TimeRemainingColumn())
    with rp.Progress(*columns, transient=True, console=_stderr_console()) as bar:
        task = bar.add_task(f"downloading {entry.name}", total=entry.size or None)
        yield lambda done, total: bar.update(task, completed=done, total=total or None)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _download_from_urls(entry: ZooModel, target: Path,
                        progress: Callable[[int, int], None] | None) -> Path:
    import pooch
    import requests

    sha256, size = expected(entry)
    failures: list[str] = []
    integrity = False  # some URL served the wrong bytes (not only network failures)
    for url in entry.urls:
        fetcher = pooch.create(path=target.parent, base_url="", retry_if_failed=RETRIES - 1,
                               registry={target.name: f"sha256:{sha256}" if sha256 else None},
                               urls={target.name: url})
        try:
            with _quiet_pooch():
                fetcher.fetch(target.name, downloader=_checking_downloader(entry, sha256, size, progress))
        except IntegrityError as exc:
            failures.append(str(exc))
            integrity = True
            continue
        except (requests.RequestException, OSError, ValueError) as exc:
            failures.append(f"{url}: {type(exc).__name__}: {_short(exc)}")
            continue
        if not sha256:
            _record_pin(entry, target)
        return target
    if integrity:
        raise IntegrityError("; ".join(failures))
    raise ZooError(f"{entry.name}: could not download from any of {len(entry.urls)} URL(s): "
                   + "; ".join(failures))


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


class _quiet_pooch:
    def __enter__(self) -> None:
        import pooch

        self.logger = pooch.get_logger()
        self.level = self.logger.level
        self.logger.setLevel(logging.WARNING)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)


def _record_pin(entry: ZooModel, target: Path) -> None:
    digest, size = file_sha256(target), target.stat().st_size
    pins = _local_pins()
    pins[entry.name] = {"sha256": digest, "size": size, "url": entry.urls[0]}
    _write_pins(pins)
    warnings.warn(
        f"{entry.name}: no published record of this file's hash exists; pinned it on this first "
        f"download as sha256 {digest} ({size} bytes): later downloads must match",
        ZooWarning, stacklevel=3,
    )


def verify(name: str) -> Path:
    """Check a pulled file's size and SHA-256 against its pin; a mismatch removes nothing
    but raises :class:`IntegrityError` naming both hashes."""
    entry = get(name)
    target = path_of(entry)
    if not target.is_file():
        raise ZooError(f"{entry.name} is not downloaded ({target}); run `restora models pull {entry.name}`")
    sha256, size = expected(entry)
    got_size = target.stat().st_size
    if size and got_size != size:
        raise IntegrityError(f"{target}: {got_size} bytes, expected {size} for {entry.name}; "
                             f"remove it with `restora models rm {entry.name}` and pull again")
    if sha256:
        got = _cached_digest(target)
        if got != sha256:
            raise IntegrityError(f"{target}: sha256 {got}, expected {sha256} for {entry.name}; "
                                 f"remove it with `restora models rm {entry.name}` and pull again")
    return target


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _cached_digest(path: Path) -> str:
    """SHA-256 of ``path``, remembered per (path, size, mtime) within this process."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_sha256(path)
    return _DIGESTS[key]


def remove(name: str) -> bool:
    """Delete a pulled model (and its local pin); ``False`` when it was not there."""
    entry = get(name)
    target = path_of(entry)
    existed = target.is_file()
    target.unlink(missing_ok=True)
    Path(str(target) + ".lock").unlink(missing_ok=True)
    pins = _local_pins()
    if pins.pop(entry.name, None) is not None:
        _write_pins(pins)
    return existed


# --- the automatic mode ----------------------------------------------------------------------


def preferred(task: str, channels: int, scale: int = 1, noise: str = "white") -> ZooModel | None:
    """A pulled zoo model the automatic mode should use for ``task`` on ``channels``-channel
    images (its ``prefer_for``: ``"task:channels"``, or ``"task:channels:camera"`` for real
    camera noise), or ``None`` (none pulled, or ``RESTORA_ZOO_DEFAULTS=off``). Opt-in models
    are never preferred."""
    if os.environ.get(ENV_ZOO_DEFAULTS, "").strip().lower() in {"0", "off", "false", "no"}:
        return None
    want = f"{task}:{channels}" + ("" if noise == "white" else f":{noise}")
    for entry in registry().values():
        if entry.prefer_for == want and entry.scale == scale \
                and not entry.needs_opt_in and is_pulled(entry):
            return entry
    return None

