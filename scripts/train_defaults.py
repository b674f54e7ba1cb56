"""Train every shipped default model, unattended, and ship each with its model card.

    .venv/bin/python scripts/train_defaults.py                       # the CPU recipes as shipped
    .venv/bin/python scripts/train_defaults.py --profile gpu         # same recipes, scaled for a GPU
    .venv/bin/python scripts/train_defaults.py --only denoise_gray --no-ship

For each default (``DEFAULTS`` below) it runs ``restora train`` on its recipe in
``configs/`` (resuming an interrupted run in the same output folder), then, for the CPU
profile, ``scripts/ship_weights.py`` to copy the EMA weights into ``src/restora/weights``
with the card. The ``gpu`` profile keeps each recipe's data, model and degradation and
changes only the budget: device cuda, bf16, ``--steps-factor`` x the steps (default 8) and
``--batch-factor`` x the batch (default 4), output ``runs/gpu/<name>``; it does not ship
(measure first with ``benchmarks/default_models.py --model``-style runs, then ship by hand).
The gpu profile has not been run yet (no GPU was available to these sessions).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: shipped name -> recipe, in training order
DEFAULTS = {
    "denoise_gray": "configs/default_denoise_gray.toml",
    "denoise_color": "configs/default_denoise_color.toml",
    "deblock_gray": "configs/default_deblock.toml",
    "upscale_x4": "configs/default_upscale_x4.toml",
    "upscale_x2": "configs/default_upscale_x2.toml",
    "upscale_real_x4": "configs/default_upscale_real_x4.toml",
    "diffusion_prior": "configs/default_diffusion_prior.toml",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--only", nargs="*", choices=list(DEFAULTS), default=None)
    parser.add_argument("--steps-factor", type=float, default=8.0, help="gpu profile: steps multiplier")
    parser.add_argument("--batch-factor", type=int, default=4, help="gpu profile: batch multiplier")
    parser.add_argument("--no-ship", action="store_true", help="train only; do not copy into the package")
    args = parser.parse_args(argv)

    from restora.train.config import load_config
    from restora.train.trainer import STATE, train

    for name in args.only or list(DEFAULTS):
        recipe = REPO / DEFAULTS[name]
        config = load_config(recipe)
        if args.profile == "gpu":
            config = replace(
                config, device="cuda", amp=True, threads=None, output=f"runs/gpu/{name}",
                steps=int(config.steps * args.steps_factor),
                val_every=int(config.val_every * args.steps_factor),
                checkpoint_every=int(config.checkpoint_every * args.steps_factor),
                data=replace(config.data, batch_size=config.data.batch_size * args.batch_factor),
            )
        resume = (REPO / config.output / STATE).is_file()
        print(f"== {name}: {recipe.relative_to(REPO)} ({args.profile}, {config.steps} steps"
              f"{', resuming' if resume else ''})", flush=True)
        result = train(config, resume=resume, progress=sys.stderr.isatty())
        print(f"   {result.steps} steps, val PSNR {result.val_psnr}, {result.seconds:.0f} s", flush=True)
        if not args.no_ship and args.profile == "cpu":
            subprocess.run([sys.executable, str(REPO / "scripts" / "ship_weights.py"), name,
                            str(recipe.relative_to(REPO))], check=True, cwd=REPO)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
