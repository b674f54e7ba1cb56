"""The ``restora train`` command (registered by restora.cli; heavy imports inside)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restora.train.config import load_config
from restora.train.trainer import train


def register(app: typer.Typer) -> None:
    """Add the ``train`` command to ``app``."""

    @app.command("train")
    def train_command(
        config: Annotated[Path, typer.Argument(help="Recipe file (.toml, or .yaml with PyYAML).")],
        resume: Annotated[bool, typer.Option("--resume", help="Continue the run in the recipe's output folder.")] = False,
        max_steps: Annotated[int | None, typer.Option("--max-steps", help="Stop after N steps in total (schedule unchanged).")] = None,
        time_limit: Annotated[float | None, typer.Option("--time-limit", help="Stop after this many seconds of training, checkpointed and exported (schedule unchanged).")] = None,
        device: Annotated[str | None, typer.Option(help="auto | cpu | cuda (overrides the recipe).")] = None,
        progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    ) -> None:
        """Train a restoration network from a recipe; export OUTPUT/model.safetensors."""
        from rich.console import Console


        result = train(load_config(config), resume=resume, max_steps=max_steps, time_limit=time_limit, device=device, progress=progress)
        val = "-" if result.val_psnr is None else f"{result.val_psnr:.2f} dB"
        Console(stderr=True).print(
            f"{result.steps} steps{' (finished)' if result.finished else ''}, loss {result.loss:.4g}, "
            f"val PSNR {val}, {result.seconds:.0f} s; model: {result.model_path}",
            highlight=False, soft_wrap=True,
        )
