"""Fuzz restora's readers with bad image files: one clear error, bounded memory, no hangs.

    python benchmarks/fuzz_inputs.py --count 2000 --seed 0 [--json out.json]

Generates ``--count`` cases with ``tests/fuzz/cases.py`` (truncation, byte flips, header
size bombs, odd geometries, malformed EXIF, zlib bombs, multi-valued TIFF tags, wrong
extensions, file-system oddities) and runs each through ``read_image``, ``image_info`` and
``restore_file`` (default automatic mode, output to a fresh folder). ``restore_file``
runs with ``RESTORA_DEFAULT_WEIGHTS=off`` (the classical fallbacks) unless
``--default-weights on``: with the shipped networks a decodable 32x24 case costs about
1-1.5 s of CPU (weights loaded afresh in every forked call) against a few milliseconds,
which turns a 2,000-case run on 2 cores from minutes into more than an hour; the decode
path, the subject here, is the same either way.

Every call runs in its own process, forked from a worker that has already imported
restora, Pillow, OpenCV and tifffile (and torch with the default weights on), so a call
costs milliseconds, not the 2-10 s of a cold start; under ``RLIMIT_AS`` = the worker's
address space + 3 GiB and a 30 s timeout. Violations, counted per case and call:

- ``escape``: an exception other than :class:`restora.errors.RestoraError`;
- ``crash``: the process died without a result (a signal: segfault, abort);
- ``hang``: no result within 30 s (the process is killed);
- ``rss``: peak RSS (``ru_maxrss`` of the process) above 2 GiB from a file under 1 MiB;
- ``traceback``: "Traceback" printed on stderr by a call that returned or failed cleanly;
- ``message``: a restora error whose message is not one line naming the file;
- ``unexpected_success``: a file that cannot be an image decoded without error;
- ``partial_output``: any file left in the output folder after a failed ``restore_file``
  (or besides the output after a successful one);
- ``input_modified``: the input's SHA-256 changed, or files appeared beside the inputs.

Prints a table by family and exits 1 on any violation. ``--workers`` (default 2) worker
processes share the cases; ``--restore-sample K`` runs ``restore_file`` on every K-th case
that decodes (all cases that fail to decode still go through it): the CI slice uses it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fuzz.cases import ERROR, Case, generate_cases

ENTRIES = ("read_image", "image_info", "restore_file")
TIMEOUT_S = 30.0
ADDRESS_HEADROOM = 3 << 30  # RLIMIT_AS above what the worker has mapped already
RSS_LIMIT = 2 << 30  # peak RSS allowed for a file under SMALL_FILE
SMALL_FILE = 1 << 20
VIOLATIONS = ("escape", "crash", "hang", "rss", "traceback", "message", "unexpected_success",
              "partial_output", "input_modified")
WRITE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")


# --- the worker: a fork server ----------------------------------------------------------------


def _preload() -> None:
    """Import everything a call may need, so forked calls start warm."""
    import cv2  # noqa: F401
    import tifffile  # noqa: F401
    from PIL import Image

    if os.environ.get("RESTORA_DEFAULT_WEIGHTS") != "off":
        import torch  # noqa: F401  (the networks; the classical fallbacks do not need it)

    import restora.api
    import restora.io
    import restora.run  # noqa: F401

    Image.init()
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        pass


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _call(entry: str, path: str, out: str) -> dict[str, Any]:
    """Run one entry point in this (forked) process; the result as a JSON-able dict."""
    from restora.errors import RestoraError

    started = time.perf_counter()
    try:
        if entry == "read_image":
            from restora.io import read_image

            read_image(path)
        elif entry == "image_info":
            from restora.io import image_info

            image_info(path)
        else:
            from restora.api import restore_file

            restore_file(path, out)
        result: dict[str, Any] = {"status": "ok"}
    except RestoraError as exc:
        result = {"status": "error", "type": type(exc).__name__, "message": str(exc)}
    except BaseException as exc:  # noqa: BLE001  (what the harness is looking for)
        text = traceback.format_exc()
        sys.stderr.write(text)
        result = {"status": "escape", "type": type(exc).__name__,
                  "message": " ".join(str(exc).split())[:500], "traceback": text[-2000:]}
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _run_forked(entry: str, path: str, out: str, limit: int) -> dict[str, Any]:
    """Fork, limit the child's address space, run ``entry``; collect its result, peak RSS
    and stderr; kill it after TIMEOUT_S."""
    read_fd, write_fd = os.pipe()
    err_file = tempfile.TemporaryFile()  # noqa: SIM115  (shared with the forked child)
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.close(read_fd)
            os.dup2(err_file.fileno(), 2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            payload = json.dumps(_call(entry, path, out)).encode()
            with os.fdopen(write_fd, "wb") as fh:
                fh.write(payload)
        finally:
            os._exit(0)
    os.close(write_fd)
    started = time.monotonic()
    chunks, hung = [], False
    while True:
        left = TIMEOUT_S - (time.monotonic() - started)
        if left <= 0:
            hung = True
            os.kill(pid, signal.SIGKILL)
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if ready:
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(read_fd)
    _, status, usage = os.wait4(pid, 0)
    err_file.seek(0)
    stderr = err_file.read().decode("utf-8", "replace")
    err_file.close()
    if hung:
        result: dict[str, Any] = {"status": "hang", "seconds": TIMEOUT_S}
    elif chunks:
        result = json.loads(b"".join(chunks))
    else:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        result = {"status": "crash", "signal": sig, "exit": os.waitstatus_to_exitcode(status)}
    result["maxrss_mb"] = round(usage.ru_maxrss / 1024, 1)
    result["stderr"] = stderr[-2000:]
    return result


def _sha256(path: Path) -> str | None:
    try:
        if not path.is_file():
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


def _names_file(message: str, *paths: Path) -> bool:
    return any(str(p) in message or p.name in message for p in paths)


def check_case(task: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Run one case through its entry points; one record per call, with its violations."""
    path = Path(task["path"])
    before = _sha256(path)
    small = _file_size(path) < SMALL_FILE
    records = []
    decoded = None
    for entry in task["entries"]:
        if entry == "restore_file" and decoded and not task["restore"]:
            continue  # CI slice: only a sample of the decodable cases is restored
        out_dir = Path(tempfile.mkdtemp(prefix="fuzz-out-"))
        suffix = path.suffix.lower() if path.suffix.lower() in WRITE_SUFFIXES else ".png"
        out = out_dir / f"restored{suffix}"
        result = _run_forked(entry, str(path), str(out), limit)
        left = sorted(p.name for p in out_dir.iterdir())
        shutil.rmtree(out_dir, ignore_errors=True)
        violations = []
        status = result["status"]
        if status in ("escape", "crash", "hang"):
            violations.append(status)
        if small and result["maxrss_mb"] * (1 << 20) > RSS_LIMIT:
            violations.append("rss")
        if status in ("ok", "error") and "Traceback" in result["stderr"]:
            violations.append("traceback")
        if status == "error":
            message = result["message"]
            if "\n" in message or not _names_file(message, path, out):
                violations.append("message")
        if status == "ok":
            must_fail = task["expect"] == ERROR and (
                entry != "image_info" or not task["header_ok"])
            if must_fail:
                violations.append("unexpected_success")
        if entry == "restore_file" and left != (["restored" + suffix] if status == "ok" else []):
            violations.append("partial_output")
            result["left"] = left
        if entry == "read_image":
            decoded = status == "ok"
        records.append({"id": task["id"], "family": task["family"], "seed": task["seed"],
                        "variant": task["variant"], "entry": entry, **result,
                        "violations": violations})
    if _sha256(path) != before:
        records[-1]["violations"].append("input_modified")
    return records


def worker(tasks_file: str) -> None:
    """Run the cases of ``tasks_file`` (JSON list) and print one JSON line per case.

    The worker is pinned to one CPU of its own (``FUZZ_WORKER_CPU``, where the machine has
    enough): restora sizes its threads by the affinity mask, so two workers never
    oversubscribe the cores and the 30 s timeout measures the call, not the neighbour."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    index = int(os.environ.get("FUZZ_WORKER_CPU", "-1"))
    if index >= 0 and len(cpus) > 1:
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})
    _preload()
    limit = _vm_size() + ADDRESS_HEADROOM
    tasks = json.loads(Path(tasks_file).read_text())
    for task in tasks:
        records = check_case(task, limit)
        sys.stdout.write(json.dumps(records) + "\n")
        sys.stdout.flush()


# --- the driver --------------------------------------------------------------------------------


def _task(case: Case, restore: bool, entries: tuple[str, ...]) -> dict[str, Any]:
    return {"id": case.id, "family": case.family, "seed": case.seed, "variant": case.variant,
            "path": str(case.path), "expect": case.expect, "header_ok": case.header_ok,
            "restore": restore, "entries": list(entries)}


def run_cases(cases: list[Case], *, workers: int = 2, restore_sample: int = 1,
              entries: tuple[str, ...] = ENTRIES, default_weights: bool = False,
              progress: bool = False) -> list[dict[str, Any]]:
    """Run ``cases`` in ``workers`` fork-server processes; the per-call records."""
    tasks = [_task(c, i % restore_sample == 0, entries) for i, c in enumerate(cases)]
    shards = [tasks[w::workers] for w in range(workers)]
    records: list[dict[str, Any]] = []
    lock = threading.Lock()
    done = [0]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("RESTORA_MAX_DECODE_BYTES", None)
    if not default_weights:
        env["RESTORA_DEFAULT_WEIGHTS"] = "off"
    with tempfile.TemporaryDirectory(prefix="fuzz-tasks-") as tmp:

        def drive(index: int, shard: list[dict[str, Any]]) -> None:
            tasks_file = Path(tmp) / f"tasks{index}.json"
            tasks_file.write_text(json.dumps(shard))
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--worker", str(tasks_file)],
                stdout=subprocess.PIPE, text=True, env=dict(env, FUZZ_WORKER_CPU=str(index)),
                cwd=str(REPO))
            seen = set()
            assert proc.stdout is not None
            for line in proc.stdout:
                batch = json.loads(line)
                with lock:
                    records.extend(batch)
                    seen.add(batch[0]["id"])
                    done[0] += 1
                    if progress and done[0] % 100 == 0:
                        print(f"  {done[0]}/{len(tasks)} cases", file=sys.stderr, flush=True)
            proc.wait()
            for task in shard:  # a worker that died leaves its remaining cases as crashes
                if task["id"] not in seen:
                    with lock:
                        records.append({"id": task["id"], "family": task["family"],
                                        "seed": task["seed"], "variant": task["variant"],
                                        "entry": "worker", "status": "crash", "maxrss_mb": 0,
                                        "violations": ["crash"]})

        threads = [threading.Thread(target=drive, args=(i, s)) for i, s in enumerate(shards)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    records.sort(key=lambda r: (r["id"], ENTRIES.index(r["entry"]) if r["entry"] in ENTRIES
                                else 9))
    return records


def summarize(records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per family: cases, calls, decoded (read_image ok), clean errors, and each violation."""
    table: dict[str, dict[str, int]] = defaultdict(Counter)
    cases: dict[str, set[str]] = defaultdict(set)
    for r in records:
        row = table[r["family"]]
        cases[r["family"]].add(r["id"])
        row["calls"] += 1
        if r["entry"] == "read_image" and r["status"] == "ok":
            row["decoded"] += 1
        if r["status"] == "error":
            row["clean_errors"] += 1
        for v in r["violations"]:
            row[v] += 1
    out = {}
    for family in sorted(table):
        row = {"cases": len(cases[family]), **table[family]}
        out[family] = {k: int(row.get(k, 0)) for k in
                       ("cases", "calls", "decoded", "clean_errors", *VIOLATIONS)}
    return out


def print_table(summary: dict[str, dict[str, int]]) -> None:
    cols = ("cases", "calls", "decoded", "clean_errors", *VIOLATIONS)
    short = {"clean_errors": "errors", "unexpected_success": "unexp_ok",
             "partial_output": "partial", "input_modified": "modified"}
    head = ["family"] + [short.get(c, c) for c in cols]
    rows = [[family] + [str(values[c]) for c in cols] for family, values in summary.items()]
    total = ["total"] + [str(sum(v[c] for v in summary.values())) for c in cols]
    widths = [max(len(r[i]) for r in [head, *rows, total]) for i in range(len(head))]
    for r in [head, *rows, total]:
        print("  ".join(x.rjust(w) if i else x.ljust(w) for i, (x, w) in
                        enumerate(zip(r, widths, strict=True))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write every record here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--restore-sample", type=int, default=1,
                        help="restore every K-th decodable case (default 1: all)")
    parser.add_argument("--default-weights", choices=("off", "on"), default="off",
                        help="restore_file with the shipped networks (on) or the classical "
                             "fallbacks (off, default: much faster)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="generate the cases in this folder and keep them")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="fuzz-cases-")) if args.keep is None else args.keep
    try:
        cases = generate_cases(args.seed, args.count, workdir)
        listing = sorted(os.listdir(workdir))
        records = run_cases(cases, workers=args.workers, restore_sample=args.restore_sample,
                            default_weights=args.default_weights == "on", progress=True)
        stray = sorted(set(os.listdir(workdir)) - set(listing))
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    summary = summarize(records)
    if stray:
        summary.setdefault("filesystem", {})["input_modified"] = (
            summary.get("filesystem", {}).get("input_modified", 0) + len(stray))
    wall = time.perf_counter() - started
    print(f"fuzz_inputs: {args.count} cases, seed {args.seed}, {args.workers} workers, "
          f"default weights {args.default_weights}, {wall:.0f} s, {platform.machine()} "
          f"{os.cpu_count()} CPUs")
    print_table(summary)
    total = sum(summary[f][v] for f in summary for v in VIOLATIONS)
    peak = max((r.get("maxrss_mb", 0) for r in records), default=0)
    print(f"violations: {total}; peak RSS of any call: {peak:.0f} MiB"
          + (f"; files created beside the inputs: {stray}" if stray else ""))
    bad = [r for r in records if r["violations"]]
    for r in bad[:40]:
        print(f"  {r['id']} {r['entry']} {r['variant']!r}: {','.join(r['violations'])} "
              f"{r.get('type', '')} {r.get('message', '')[:160]}")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "seed": args.seed, "count": args.count, "workers": args.workers,
            "default_weights": args.default_weights,
            "wall_s": round(wall, 1), "cpus": os.cpu_count(), "summary": summary,
            "violations": total, "stray_files": stray, "records": records}, indent=1))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
