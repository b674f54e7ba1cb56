"""Throughput of ``restora batch``: local pool (1 and 2 workers), Ray (2 CPUs), plain loop.

Makes ``--count`` noisy ``--size``x``--size`` PNGs plus 5 unreadable files (a corrupt-file
mix like a real card dump) in a temp folder, then times, on the same folder:

* ``loop``: ``restore_file`` in a plain Python loop in this process (after one warm-up
  image): the pipeline alone, no batch machinery;
* ``local xN``: ``run_batch(engine="local", workers=N)`` from a cold start (process pool
  start, per-worker method set-up, hashing, manifest fsync per image);
* ``ray x2``: ``run_batch(engine="ray", workers=2)`` on a local cluster started just before
  with ``ray.init(num_cpus=2)`` (timed on its own row; actor start-up is included);
* ``rerun``: the same batch again (everything skipped: hashing + manifest only).

Each timing except Ray's is the best of ``--repeat`` runs (the machine may be shared).

The overhead ratio is ``local x1`` seconds / ``loop`` seconds; the per-image overhead is
their difference divided by the image count.

Run: ``.venv/bin/python benchmarks/batch_throughput.py [--count 100] [--size 64]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restora.api import restore_file
from restora.batch import run_batch
from tests.batch.batch_data import make_bad_files, make_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--method", default="nlm")
    parser.add_argument("--sigma", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=2, help="best of N (not for Ray)")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    options = {"method": args.method, "sigma": args.sigma}

    rows: list[tuple[str, float, int, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        paths = make_images(src, args.count, size=args.size)
        bad = make_bad_files(src)
        restore_file(paths[0], Path(tmp) / "warm.png", **options)

        def plain_loop(rep: int) -> float:
            start = time.perf_counter()
            for path in paths:
                restore_file(path, Path(tmp) / f"loop{rep}" / path.name, **options)
            return time.perf_counter() - start

        loop = min(plain_loop(rep) for rep in range(args.repeat))
        rows.append(("loop (restore_file)", loop, len(paths), 0))

        runs = [("local x1", "local", 1), ("local x2", "local", 2)]
        if not args.no_ray:
            try:
                import ray  # noqa: F401

                runs.append(("ray x2 (cluster up)", "ray", 2))
            except ImportError:
                print("ray not installed: skipping the Ray engine", file=sys.stderr)
        for label, engine, workers in runs:
            if engine == "ray":
                import ray

                start = time.perf_counter()
                ray.init(num_cpus=workers, include_dashboard=False, logging_level="WARNING",
                         log_to_driver=False)
                rows.append(("ray.init(num_cpus=2)", time.perf_counter() - start, 0, 0))
            best = float("inf")
            for rep in range(1 if engine == "ray" else args.repeat):
                out = Path(tmp) / f"{label.replace(' ', '_')}_{rep}"
                start = time.perf_counter()
                summary = run_batch(src, out, options, engine=engine, workers=workers)
                best = min(best, time.perf_counter() - start)
            rows.append((label, best, summary.done, summary.failed))
            if engine == "ray":
                ray.shutdown()
            if label == "local x1":
                start = time.perf_counter()
                again = run_batch(src, out, options, engine=engine, workers=workers)
                rows.append(("rerun (all skipped)", time.perf_counter() - start, again.done,
                             again.skipped + again.failed_before))

    print(f"{args.count} images {args.size}x{args.size} + {len(bad)} unreadable, method "
          f"{args.method} sigma {args.sigma}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    print("| run | seconds | restored | failed or skipped | files/s |")
    print("|---|---|---|---|---|")
    for label, seconds, done, other in rows:
        rate = (done + other) / seconds  # failed and skipped files count as handled
        print(f"| {label} | {seconds:.2f} | {done} | {other} | {rate:.1f} |")
    loop_s = rows[0][1]
    local1 = next(s for label, s, _, _ in rows if label == "local x1")
    n = args.count + len(bad)
    print(f"\noverhead: local x1 / loop = {local1 / loop_s:.2f}x; "
          f"{(local1 - loop_s) / n * 1000:.1f} ms per image (cold start included)")


if __name__ == "__main__":
    main()
