"""One lent GPU session, prepared: the GPU benchmark, then one recipe trained for the time left.

A lent machine (the ``device`` tool: one H200, 15 minutes of device time per task, start and
idle included) gets the repository and nothing beside it: ``../shared`` does not travel, and
the working tree plus carried folders must stay under 64 MiB. So:

    .venv/bin/python scripts/device_session.py stage            # here: copy the images into device_data/
    # then, through the device tool, with carry ["device_data"] and timeout_s 600:
    PYTHONUNBUFFERED=1 PYTHONPATH=src python3 scripts/device_session.py run --minutes 8 --out $OUT

``stage`` copies the recipe's training photos (``--recipe``; by default the colour ones,
``bsd400_color``, original JPEG bytes) and as many of its validation photos as fit into
``device_data/`` (git-ignored; never committed), and prints the size that will travel. ``run``
(on the device) runs ``benchmarks/gpu_throughput.py`` (the network rate against a bare
forward; its table to ``$OUT/gpu_throughput.txt``) and ``benchmarks/gpu_batch.py`` (a folder
of photos through ``restora batch`` at 1-3 workers: does decoding and encoding hide behind the
GPU; ``$OUT/gpu_batch.txt``), each with a time limit, then times 200 steps of the recipe (the rate of
their last two thirds) at ``--batch-factor`` x its batch with ``--workers`` processes
making the batches (one process makes about 3.5 batches of 128 AWGN patches a second on
this project's CPU, 1.1 with 30 % in-camera noise: too few to keep an H200 busy), sets the
recipe's schedule to the steps that fit the minutes left, trains it
with a time limit as a safety stop, and copies the exported EMA model, its log, plot and
config to ``$OUT``. Nothing is shipped: measure the model here first (``restora eval``,
``benchmarks/camera_step.py --parts models``), then ship it with ``scripts/ship_weights.py``.

The default recipe is ``configs/default_denoise_color_stage3.toml`` from the shipped weights
(issues 14 and 17: the colour model that generalises to real photos needs more training than
two CPU cores give); ``--recipe configs/denoise_color_unshuffled.toml --init none`` trains
the cheaper candidate of issue 17 from scratch instead (session 15 ran the default: stage 4,
shipped; session 16 the gray denoiser's and the deblocker's stage-2 recipes, both shipped;
prepared and not run yet: ``configs/default_upscale_x4_stage4.toml`` and ``default_upscale_x2_stage4.toml``).
Another default: the same ``--recipe`` to both commands and its shipped weights as
``--init``, e.g. ``stage --recipe configs/default_denoise_gray.toml`` then ``run --recipe
configs/default_denoise_gray.toml --init src/restora/weights/denoise_gray.safetensors``.

Several recipes in one session (one machine start, not one per recipe): repeat ``--recipe``
(to ``stage``: the union of their folders is staged; they must validate on the same folder)
and give ``run`` one ``--init`` per ``--recipe``; they train one after another, each for an
equal share of the minutes left, and each one's files go to ``$OUT/<recipe name>/``::

    .venv/bin/python scripts/device_session.py stage --recipe configs/default_upscale_x4_stage4.toml \
        --recipe configs/default_upscale_x2_stage4.toml
    PYTHONUNBUFFERED=1 PYTHONPATH=src python3 scripts/device_session.py run --minutes 9 --batch-factor 1 \
        --recipe configs/default_upscale_x4_stage4.toml --init src/restora/weights/upscale_x4.safetensors \
        --recipe configs/default_upscale_x2_stage4.toml --init src/restora/weights/upscale_x2.safetensors \
        --out $OUT
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
STAGED = REPO / "device_data"
#: what may travel to the device machine: tracked files plus carried folders
TRAVEL_LIMIT = 64 * 2**20
VAL_SET = "val20"
DEFAULT_RECIPE = "configs/default_denoise_color_stage3.toml"
DEFAULT_INIT = "src/restora/weights/denoise_color.safetensors"


def _tracked_bytes() -> int:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return sum((REPO / n).stat().st_size for n in names.decode().split("\0") if n and (REPO / n).is_file())


def recipe_folders(recipe: str | Path) -> tuple[list[str], str]:
    """The training folders and the validation folder a recipe names, as folder names under
    ``../shared/datasets`` (read with tomllib: ``stage`` runs without restora's
    dependencies)."""
    import tomllib

    data = tomllib.loads((REPO / recipe).read_text()).get("data", {})
    return [Path(t).name for t in data.get("train", [])], Path(data.get("val") or VAL_SET).name


def stage(recipes: list[str | Path] | str | Path = DEFAULT_RECIPE, margin: int = 2**20) -> int:
    """Copy the recipes' training photos (the union of their folders) and the validation
    photos that fit into ``device_data/<folder>/``. When the working tree has grown so that
    not all training photos fit beside one validation photo, the first ones (folders in the
    recipes' order, files by name) that do are staged, with a warning that names the count (a
    smaller training set is a recipe change for the card; a lost GPU session is worse)."""
    recipes = [recipes] if isinstance(recipes, (str, Path)) else list(recipes)
    train_sets: list[str] = []
    val_sets = set()
    for one in recipes:
        sets, val = recipe_folders(one)
        train_sets += [s for s in sets if s not in train_sets]
        val_sets.add(val)
    if len(val_sets) != 1:
        print(f"error: the recipes validate on different folders ({', '.join(sorted(val_sets))}); "
              "stage and run them in separate sessions", file=sys.stderr)
        return 1
    (val_set,) = val_sets
    recipe = ", ".join(str(r) for r in recipes)
    train = [p for name in train_sets if (SHARED / name).is_dir() for p in sorted((SHARED / name).iterdir())]
    if not train:
        print(f"error: {recipe}: no training photos in {', '.join(train_sets) or 'its data.train'}",
              file=sys.stderr)
        return 1
    tracked = _tracked_bytes()
    by_size = sorted((SHARED / val_set).iterdir(), key=lambda p: p.stat().st_size) \
        if (SHARED / val_set).is_dir() else []
    if not by_size:
        print(f"error: {SHARED / val_set}: no validation photos", file=sys.stderr)
        return 1
    budget = TRAVEL_LIMIT - margin - tracked - by_size[0].stat().st_size  # one validation photo
    kept, used = [], 0
    for p in train:
        if used + p.stat().st_size > budget:
            break
        kept.append(p)
        used += p.stat().st_size
    if not kept:
        print(f"error: no training photo fits in {TRAVEL_LIMIT >> 20} MiB with the working tree",
              file=sys.stderr)
        return 1
    if len(kept) < len(train):
        print(f"warning: only {len(kept)} of {len(train)} training photos fit in {TRAVEL_LIMIT >> 20} MiB "
              "with the working tree; the run trains on those (say so in the model card)", file=sys.stderr)
    train, budget = kept, budget + by_size[0].stat().st_size - used
    val = []
    for p in by_size:
        if p.stat().st_size > budget:
            break
        val.append(p)
        budget -= p.stat().st_size
    shutil.rmtree(STAGED, ignore_errors=True)
    for p in [*train, *val]:
        (STAGED / p.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, STAGED / p.parent.name / p.name)
    size = sum(p.stat().st_size for p in STAGED.rglob("*") if p.is_file())
    print(f"{STAGED.relative_to(REPO)}: {len(train)} training photos ({', '.join(train_sets)}) + "
          f"{len(val)} validation photos ({val_set}) for {recipe}, {size / 2**20:.1f} MiB (with the "
          f"working tree {(size + tracked) / 2**20:.1f} of {TRAVEL_LIMIT >> 20} MiB); "
          "carry [\"device_data\"]")
    return 0


def _seconds_per_step(config, device: str, steps: int) -> float:
    """Seconds per step of ``config`` on ``device``, from the last two thirds of ``steps`` steps
    of a throwaway run: the first steps include autotuning and allocation, and are fed from
    batches the worker processes made ahead (session 15: 30.4 ms per step over steps 10-40,
    41.6 ms over the run, whose schedule the time limit then cut at 73 %)."""
    from restora.train.trainer import train

    calib = replace(config, output=f"{config.output}_calibration", log_every=5, val_every=0,
                    checkpoint_every=0, data=replace(config.data, val=None))
    shutil.rmtree(REPO / calib.output, ignore_errors=True)
    history = train(calib, max_steps=steps, device=device, progress=False).history
    at = {r["step"]: r["seconds"] for r in history if "seconds" in r}
    first = steps // 3 // 5 * 5
    return (at[steps] - at[first]) / (steps - first)


def _logged(cmd: list[str], log: Path, seconds: float) -> None:
    """Run a benchmark for at most ``seconds``, its output into ``log`` and printed; a failed
    or stopped benchmark is written down, and the session goes on to train."""
    with open(log, "w") as fh:
        try:
            done = subprocess.run(cmd, check=False, stdout=fh, stderr=subprocess.STDOUT, timeout=seconds)
            if done.returncode:
                fh.write(f"\n(exit status {done.returncode})\n")
        except subprocess.TimeoutExpired:
            fh.write(f"\n(stopped after {seconds} s)\n")
    print(log.read_text(), flush=True)


def run(args: argparse.Namespace) -> int:
    """The device session: benchmark, then each recipe calibrated and trained for its share
    of the minutes left, copied out."""
    start = time.monotonic()
    recipes = args.recipe or [DEFAULT_RECIPE]
    inits = args.init or ([DEFAULT_INIT] if len(recipes) == 1 else [])
    if len(inits) != len(recipes):
        print(f"error: {len(recipes)} recipes and {len(inits)} --init: give one --init per --recipe "
              "('none' to train from scratch)", file=sys.stderr)
        return 2
    out = Path(args.out or os.environ.get("OUT") or REPO / "runs" / "device_out")
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(REPO)
    # the machine's image holds torch but not all of restora's dependencies (no platformdirs):
    # name the cache folder so that nothing asks for the OS's one
    os.environ.setdefault("RESTORA_CACHE", str(Path(tempfile.gettempdir()) / "restora_cache"))
    if not args.skip_throughput:
        cmd = [sys.executable, "benchmarks/gpu_throughput.py", "--device", args.device, "--repeat", "2",
               "--compile"]
        if args.device == "cpu":
            cmd += ["--megapixels", "0.1", "--precisions", "fp32"]
        _logged(cmd, out / "gpu_throughput.txt", args.throughput_seconds)
    if not args.skip_batch:
        cmd = [sys.executable, "benchmarks/gpu_batch.py", "--device", args.device]
        if args.device == "cpu":
            cmd += ["--megapixels", "0.1", "--photos", "4", "--workers", "1,2", "--precision", "fp32"]
        _logged(cmd, out / "gpu_batch.txt", args.batch_seconds)
    status = 0
    for n, (recipe_path, init) in enumerate(zip(recipes, inits)):
        # each recipe gets an equal share of the time left, its own reserve kept back
        remaining = len(recipes) - n
        left = (args.minutes * 60 - (time.monotonic() - start) - remaining * args.reserve_seconds) / remaining
        where = out if len(recipes) == 1 else out / Path(recipe_path).stem
        status |= _train_one(args, recipe_path, init, left, where, start)
    return status


def _train_one(args: argparse.Namespace, recipe_path: str, init: str, seconds: float, out: Path,
               start: float) -> int:
    """Calibrate and train one recipe for about ``seconds`` (calibration included); its EMA
    model, log, plot and config into ``out``."""
    from restora.train.config import load_config
    from restora.train.trainer import train

    began = time.monotonic()
    recipe = load_config(REPO / recipe_path)
    train_sets, val_set = recipe_folders(recipe_path)
    config = replace(
        recipe, device=args.device, amp=True, threads=None, output=f"runs/device/{Path(recipe_path).stem}",
        workers=args.workers,
        model=replace(recipe.model, init=None if init == "none" else init),
        data=replace(recipe.data, train=[str(STAGED / name) for name in train_sets
                                         if (STAGED / name).is_dir()],
                     val=str(STAGED / val_set),
                     batch_size=recipe.data.batch_size * args.batch_factor),
    )
    per_step = _seconds_per_step(config, args.device, args.calibration_steps)
    left = seconds - (time.monotonic() - began)
    if left < 20 * per_step:
        print(f"{recipe_path}: {per_step:.2f} s per step, {left:.0f} s left: too little to train; "
              f"give more --minutes", flush=True)
        return 1
    steps = int(left / per_step)
    config = replace(config, steps=steps, val_every=0, checkpoint_every=max(steps // 4, 1), log_every=50,
                     optim=replace(config.optim, warmup_steps=min(config.optim.warmup_steps, steps // 10)))
    shutil.rmtree(REPO / config.output, ignore_errors=True)
    print(f"{recipe_path}: {per_step * 1000:.1f} ms per step at batch {config.data.batch_size} -> "
          f"{steps} steps in {left:.0f} s", flush=True)
    result = train(config, time_limit=left, progress=False)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "log.jsonl", "plot.png", "config.json"):
        if (result.output / name).is_file():
            shutil.copyfile(result.output / name, out / name)
    print(f"{result.steps} of {steps} steps, val PSNR {result.val_psnr}, {result.seconds:.0f} s; "
          f"session {time.monotonic() - start:.0f} s; files in {out}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("stage", help="copy the photos a device run needs into device_data/ (here)")
    st.add_argument("--recipe", action="append", default=None,
                    help="whose data.train and data.val to stage (repeat for several; default "
                         f"{DEFAULT_RECIPE})")
    p = sub.add_parser("run", help="benchmark and train on the device")
    p.add_argument("--minutes", type=float, default=8.0, help="the whole run, benchmark included")
    p.add_argument("--recipe", action="append", default=None,
                   help="the same as stage's; repeated, the recipes train one after another, each "
                        "for an equal share of the minutes left")
    p.add_argument("--init", action="append", default=None,
                   help="weights to start from, one per --recipe ('none': from scratch, e.g. for "
                        f"another architecture; default with one recipe: {DEFAULT_INIT})")
    p.add_argument("--batch-factor", type=int, default=4)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2),
                   help="processes that make batches ahead of the GPU (all cores but 2: with 12 of the "
                        "H200 machine's 16 the run was data-bound, 41.6 ms per step against 30.4)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", default=None, help="where the files go (default $OUT)")
    p.add_argument("--calibration-steps", type=int, default=200, choices=range(15, 1001, 5),
                   metavar="N", help="steps timed before the run (a multiple of 5, 15..1000)")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--throughput-seconds", type=int, default=240)
    p.add_argument("--skip-batch", action="store_true", help="leave out benchmarks/gpu_batch.py")
    p.add_argument("--batch-seconds", type=int, default=150,
                   help="limit of the batch benchmark (a folder of photos through `restora batch`)")
    p.add_argument("--reserve-seconds", type=float, default=45.0,
                   help="kept for the last validation, the export and the copies")
    args = parser.parse_args(argv)
    return stage(args.recipe or [DEFAULT_RECIPE]) if args.command == "stage" else run(args)


if __name__ == "__main__":
    raise SystemExit(main())
