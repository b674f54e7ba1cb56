"""Training reproducibility: the same config and seed twice, and a SIGKILL + ``--resume``.

Runs a 200-step CPU recipe (a small DnCNN on Train400, bf16 autocast as the default
recipes use, ``deterministic = true``) twice in fresh processes through ``restora train``
and compares the logged loss curves; then starts it a third time, kills it with SIGKILL
once the log passes step 120 (last checkpoint: step 100), resumes with ``--resume`` and
compares the finished curve with the uninterrupted one.

    .venv/bin/python benchmarks/train_reproducibility.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"
RESTORA = [sys.executable, "-m", "restora.cli"]

RECIPE = """
output = "{out}"
steps = 200
seed = 7
device = "cpu"
amp = true
deterministic = true
threads = 2
checkpoint_every = 50
log_every = 10

[data]
train = ["{data}/train400_gray"]
channels = 1
patch_size = 40
batch_size = 16

[degradation]
kind = "gaussian"
sigma_min = 0.0
sigma_max = 50.0

[model]
arch = "dncnn"
options = {{ num_features = 32, depth = 6 }}

[optim]
lr = 1e-3
warmup_steps = 20
"""


def _losses(run: Path) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    return [(r["step"], r["loss"]) for r in records if "loss" in r]


def _config(root: Path, name: str) -> Path:
    path = root / f"{name}.toml"
    path.write_text(RECIPE.format(out=root / name, data=DATA))
    return path


def main() -> int:
    if not DATA.is_dir():
        print(f"needs {DATA}", file=sys.stderr)
        return 2
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        curves = []
        for name in ("a", "b"):
            t0 = time.perf_counter()
            subprocess.run([*RESTORA, "train", str(_config(root, name)), "--no-progress"], check=True, env=env)
            curves.append(_losses(root / name))
            print(f"run {name}: {len(curves[-1])} log points, {time.perf_counter() - t0:.1f} s", flush=True)
        same = curves[0] == curves[1]
        print(f"same config + seed twice: loss curves identical = {same} "
              f"(max |diff| {max(abs(x[1] - y[1]) for x, y in zip(*curves, strict=True)):.3g})")
        cfg = _config(root, "c")
        proc = subprocess.Popen([*RESTORA, "train", str(cfg), "--no-progress"], env=env)
        log = root / "c" / "log.jsonl"
        while proc.poll() is None:
            if log.is_file() and any(s >= 120 for s, _ in _losses(root / "c")):
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        proc.wait()
        killed_at = max(s for s, _ in _losses(root / "c"))
        print(f"killed (SIGKILL) after step {killed_at}; rc {proc.returncode}", flush=True)
        subprocess.run([*RESTORA, "train", str(cfg), "--resume", "--no-progress"], check=True, env=env)
        resumed = _losses(root / "c")
        diff = max(abs(x[1] - y[1]) for x, y in zip(resumed, curves[0], strict=True))
        print(f"resumed run: {len(resumed)} log points, steps {[s for s, _ in resumed] == [s for s, _ in curves[0]]}"
              f" as the uninterrupted run; identical = {resumed == curves[0]} (max |diff| {diff:.3g})")
        return 0 if same and resumed == curves[0] else 1


if __name__ == "__main__":
    raise SystemExit(main())
