"""The ``restora`` command line: thin wrappers over the runner and the public API.

``restore``, ``batch`` and ``eval`` take the request options of :mod:`restora.options`
(added by :func:`restora.cli_options.request_options`, so every option is declared once).
User errors (bad files, bad options) print one ``error:`` line and exit with status 2.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from restora import __version__, auto
from restora.api import output_paths
from restora.batch.command import register as register_batch
from restora.bench.evaluate import evaluate_request
from restora.cli_frames import register as register_frames
from restora.cli_models import register as register_models
from restora.cli_options import request_options
from restora.console import console, print_error, progress_bar, stdout
from restora.defaults import table_rows
from restora.errors import (
    InvalidParameterError,
    OutputExistsError,
    RestoraError,
    ZooWarning,
)
from restora.io import image_info, read_image
from restora.io.jpeg_quality import estimate_jpeg_quality
from restora.methods import list_methods
from restora.models import convert as convert_model
from restora.options import AUTO, FORMATS, Choice, Execution, Params, Request
from restora.run import Restorer
from restora.train.command import register as register_train
from restora.web.command import register as register_serve
from restora.weights import DEFAULT_WEIGHTS

app = typer.Typer(
    name="restora",
    help="Restore and enhance photos (denoise, deblock, upscale, deblur, inpaint), and measure "
         "methods the way the papers do.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        import platform

        typer.echo(f"restora {__version__} (Python {platform.python_version()})")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True,
                     help="Print restora's version and exit."),
    ] = False,
) -> None:
    # Options before any command (only --version); the app's help is Typer(help=...) above.
    return None


@app.command()
@request_options()
def restore(
    inputs: Annotated[list[Path], typer.Argument(help="Input image(s).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file, or folder for several inputs.")],
    explain: Annotated[bool, typer.Option(help="Print what was decided for each photo, and why (stderr).")] = False,
    *,
    request: Request,
) -> None:
    """Restore photos: decode, run the method (tiled), write with EXIF/ICC kept.

    Without --task, each photo is inspected (JPEG quality, noise level) and gets only the
    steps it needs; --explain prints the decisions.
    """
    restorer = Restorer(request.choice, request.execution)
    restorer.check()
    if len(inputs) > 1:
        output.mkdir(parents=True, exist_ok=True)
    targets = _targets(inputs, output, request)
    failures = 0
    for source, target in zip(inputs, targets):
        bar, update = progress_bar(source.name, _megapixels(source))
        on_plan = _explainer(source) if explain and restorer.automatic else None
        try:
            with bar:
                _, report = restorer.run_file(source, target, request.params, request.output,
                                              progress=update, on_plan=on_plan)
        except RestoraError as exc:
            if len(inputs) == 1:
                raise
            failures += 1
            print_error(exc)
            continue
        if explain and not restorer.automatic:
            console.print(f"{source}: {report.decision}", markup=False, highlight=False,
                          soft_wrap=True)
        console.print(f"{source} -> {target}", markup=False, highlight=False)
    if failures:
        console.print(f"{failures} of {len(inputs)} image(s) failed")
        raise typer.Exit(2)


def _targets(inputs: list[Path], output: Path, request: Request) -> list[Path]:
    """Output paths: ``-o FILE`` for one input, ``-o FOLDER/<name>`` for several; the
    folder's names take ``--format``'s suffix and ``--suffix``."""
    out = request.output
    targets = output_paths(inputs, output)
    if len(targets) == 1 and targets[0] == output:
        forced = FORMATS[out.format][0]
        if forced is not None and output.suffix.lower() not in (forced, ".jpeg", ".tiff"):
            raise InvalidParameterError(
                f"--format {out.format} writes {forced} files but the output is {output}; "
                "name the output with that suffix or drop --format")
        return targets
    return [t.with_name(t.stem + out.suffix + out.suffix_for(t)) for t in targets]


def _megapixels(source: Path) -> float | None:
    """An input's size in megapixels from its header, for the bar's MP/s (None when no bar
    is shown or the header is unreadable)."""
    if not console.is_terminal:
        return None
    try:
        facts = image_info(source)
        return int(facts["width"]) * int(facts["height"]) / 1e6
    except (RestoraError, KeyError, TypeError, ValueError):
        return None


def _explainer(source: Path):
    """An ``on_plan`` callback printing what the automatic mode decided for ``source``."""

    def show(plan: auto.Plan) -> None:
        console.print(f"{source}: {plan.explain()}", markup=False, highlight=False, soft_wrap=True)

    return show


@app.command("methods")
def methods_command(
    task: Annotated[str | None, typer.Option(help="Only methods for this task.")] = None,
) -> None:
    """List the registered methods, the shipped weights and the default for each task."""
    table = Table(title="restora methods (own options: --option KEY=VALUE)")
    for column in ("name", "tasks", "channels", "needs", "own options", "description"):
        table.add_column(column, no_wrap=column in ("name", "own options"))
    for m in list_methods(task=task):
        needs = [n for n, flag in (("sigma", m.needs_sigma), ("kernel", m.needs_kernel),
                                   ("mask", m.needs_mask)) if flag]
        if m.scales:
            needs.append("scale " + "/".join(map(str, m.scales)))
        table.add_row(m.name, ", ".join(m.tasks), ",".join(map(str, m.channels)),
                      ", ".join(needs) or "-", ", ".join(m.own_options) or "-", m.description)
    stdout.print(table)
    defaults = Table(title="defaults (--task without --method/--model; fallback when "
                           "RESTORA_DEFAULT_WEIGHTS=off)")
    for column in ("task", "gray images", "colour images"):
        defaults.add_column(column)
    for row in table_rows():
        if task is None or row[0].split()[0] == task:
            defaults.add_row(*row)
    stdout.print(defaults)
    shipped = [c for c in DEFAULT_WEIGHTS if task is None or c.task == task]
    if shipped:
        weights = Table(title="shipped weights (--model NAME)")
        for column in ("name", "task", "channels", "scale", "description"):
            weights.add_column(column)
        for c in shipped:
            weights.add_row(c.name, c.task, ",".join(map(str, c.channels)), f"x{c.scale}",
                            c.description)
        stdout.print(weights)


@app.command("eval")
@request_options(groups=(Choice, Params, Execution),
                 exclude=("mask", "seed", "max_pixels", "raw_develop"))
def eval_command(
    dataset: Annotated[Path, typer.Option(help="Folder of clean reference images.")],
    protocol: Annotated[str, typer.Option(help="Metric protocol: paper | matlab | rgb.")] = "paper",
    seed: Annotated[int, typer.Option(help="Base seed of the degradation; image i uses seed + i.")] = 0,
    limit: Annotated[int | None, typer.Option(help="Only the first N images.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the results as JSON.")] = None,
    per_image: Annotated[bool, typer.Option(help="Print the per-image table.")] = True,
    *,
    request: Request,
) -> None:
    """Evaluate a method on a dataset with a paper-exact protocol (whole images unless --tile).

    Without --method/--model, the default for the task and the images' channels runs.
    """
    execution = request.execution
    if execution.tile == AUTO:
        execution = replace(execution, tile=None)
    label = request.choice.method or request.choice.model or request.choice.task
    bar, update = progress_bar(f"{label} on {dataset.name}")
    with bar:
        result = evaluate_request(dataset, choice=request.choice, params=request.params,
                          execution=execution, protocol=protocol, seed=seed, limit=limit,
                          progress=update)
    stdout.print(result.to_markdown(per_image=per_image), markup=False, highlight=False, soft_wrap=True)
    if json_path is not None:
        result.to_json(json_path)
        console.print(f"wrote {json_path}")


@app.command()
def convert(
    source: Annotated[Path, typer.Argument(help="Weight file to convert (.mat, .pth, .ckpt, .safetensors).", show_default=False)],
    target: Annotated[Path, typer.Argument(help="Output .safetensors file.", show_default=False)],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
) -> None:
    """Convert a weight file (e.g. an official MatConvNet release) to restora safetensors."""
    if target.exists() and not overwrite:
        raise OutputExistsError(target, "already exists; pass --overwrite to replace it")
    descriptor = convert_model(source, target)
    console.print(f"{source} -> {target} ({descriptor.arch}, task {descriptor.task}, "
                  f"{descriptor.in_channels}->{descriptor.out_channels} channels, x{descriptor.scale})")


@app.command()
def info(
    image: Annotated[Path, typer.Argument(help="Image file.", show_default=False)],
    noise: Annotated[bool, typer.Option(help="Estimate the noise level (decodes the pixels).")] = True,
) -> None:
    """Show size, depth, colour profile, EXIF summary, JPEG quality and estimated noise."""
    facts = image_info(image)
    facts["JPEG quality (from quantisation tables)"] = estimate_jpeg_quality(image)
    if noise:
        # The automatic mode's measurement (on luma for chroma-subsampled JPEGs).
        detected = auto.plan(read_image(image)).detected
        facts["estimated noise sigma (8-bit units)"] = round(float(detected["noise_sigma"]), 2)
        camera = detected.get("camera_noise")
        facts["camera-noise reading (8-bit RMS; denoised from "
              f"{detected['camera_threshold']})"] = "-" if camera is None else camera
        if detected.get("structure") is not None:
            facts["residual structure (texture from "
                  f"{auto.STRUCTURE_MAX:g}: not denoised)"] = detected["structure"]
    table = Table(title=str(image), show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in facts.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        table.add_row(str(key), "-" if value is None else str(value))
    stdout.print(table)


register_frames(app)
register_batch(app)
register_train(app)
register_serve(app)
register_models(app)


def _quiet_library_warnings() -> None:
    """Library warnings (Pillow, tifffile, torch) go to the ``py.warnings`` logger, which
    prints nothing unless ``RESTORA_DEBUG=1``: the user sees restora's own lines, and an
    error stays the one ``error:`` line."""
    logging.captureWarnings(True)
    log = logging.getLogger("py.warnings")
    if os.environ.get("RESTORA_DEBUG", "").strip() in ("", "0"):
        log.handlers = [logging.NullHandler()]
        log.propagate = False
    captured = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, ZooWarning):  # restora's own news for the user (a new pin)
            console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)
        else:
            captured(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning user errors into one line and exit status 2."""
    _quiet_library_warnings()
    try:
        app(args=argv, prog_name="restora")  # standalone mode: always ends in SystemExit
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except RestoraError as exc:
        print_error(exc)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
