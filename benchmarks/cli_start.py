"""One ``restora restore`` call end to end: with torch imported and without (issue 17).

Each row is a fresh process running the CLI on the same photo (the ``speed_table`` 2 MP
image, 8-bit PNG; or ``--megapixels`` of it), writing a PNG, best of ``--repeat``
interleaved rounds, with wall time and peak resident memory (``ru_maxrss``):

* ``cold cache``: the first call, which exports the network's ONNX graph (torch imported);
* ``torch imported``: the same call with ``import torch`` first, as every call was before
  the loader deferred building torch networks whose graph is cached;
* ``graph cached, no torch``: what a user's second and later calls do.

The outputs of the rows are checked to be the same bytes.

    .venv/bin/python benchmarks/cli_start.py --repeat 3
    .venv/bin/python benchmarks/cli_start.py --repeat 3 --args=""   # the automatic mode
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Runs the CLI in this process, then prints the peak resident memory (KiB on Linux).
WRAPPER = """
import resource, sys
if sys.argv[1] == "torch":
    import torch
from restora.cli import main
try:
    main(sys.argv[2:])
except SystemExit as exc:
    if exc.code:
        raise
print("maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "torch" in sys.modules)
"""


def _call(mode: str, cli: list[str], env: dict[str, str]) -> tuple[float, float, bool]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WRAPPER, mode, *cli], env=env, check=False,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    line = next(v for v in done.stdout.splitlines() if v.startswith("maxrss"))
    _, rss, torch_loaded = line.split()
    return seconds, int(rss) / 2**20, torch_loaded == "True"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--megapixels", type=float, default=2.0)
    ap.add_argument("--args", default="--task denoise --sigma 25",
                    help="restora restore options (default: %(default)s)")
    args = ap.parse_args(argv)

    from PIL import Image
    from speed_table import SIZE, two_megapixel_image

    scale = math.sqrt(args.megapixels * 1e6 / (SIZE[0] * SIZE[1]))
    size = (round(SIZE[0] * scale / 8) * 8, round(SIZE[1] * scale / 8) * 8)
    _, noisy = two_megapixel_image(size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        photo = folder / "photo.png"
        Image.fromarray(np.rint(np.clip(noisy, 0, 1) * 255).astype(np.uint8)).save(photo)
        env = dict(os.environ, RESTORA_CACHE=str(folder / "cache"))
        options = shlex.split(args.args)
        options += [] if "--overwrite" in options else ["--overwrite"]  # rounds reuse the names
        rows = {"cold cache (exports the graph)": [], "torch imported": [],
                "graph cached, no torch": []}
        outputs = {}
        for _ in range(args.repeat):
            for name, runs in rows.items():
                if name.startswith("cold"):
                    shutil.rmtree(env["RESTORA_CACHE"], ignore_errors=True)
                out = folder / f"out-{len(outputs)}.png"
                mode = "plain" if name.endswith("no torch") else "torch"
                runs.append(_call(mode, ["restore", str(photo), "-o", str(out), *options], env))
                outputs.setdefault(name, out.read_bytes())
                assert out.read_bytes() == outputs[name]
        assert len(set(outputs.values())) == 1, "the rows wrote different files"

    print(f"# restora restore on a {size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.2f} MP) PNG, "
          f"options `{args.args}`, best of {args.repeat} interleaved rounds\n")
    print("| call | best s (rounds) | peak RSS GiB (best round) | torch imported | time / torch imported |")
    print("|---|---:|---:|---|---:|")
    reference = min(s for s, _, _ in rows["torch imported"])
    for name, runs in rows.items():
        best = min(runs)
        rounds = ", ".join(f"{s:.2f}" for s, _, _ in runs)
        print(f"| {name} | {best[0]:.2f} ({rounds}) | {best[1]:.2f} | {'yes' if best[2] else 'no'} "
              f"| {best[0] / reference:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
