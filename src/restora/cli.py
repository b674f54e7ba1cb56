"""The ``restora`` command line: thin wrappers over the public API.

User errors (bad files, bad options) print one ``error:`` line and exit with status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from restora.errors import InvalidParameterError, OutputExistsError, RestoraError

app = typer.Typer(
    name="restora",
    help="Restore and enhance photos (denoise, upscale, deblur), and measure methods the way the papers do.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
stdout = Console()

Task = Annotated[str, typer.Option(help="denoise | upscale | deblock | deblur")]
AutoTask = Annotated[str | None, typer.Option(help="auto (inspect each photo: deblock JPEGs, denoise when noisy, upscale with --scale) | denoise | upscale | deblock | deblur. Default: auto, or the task of --method/--model.", show_default=False)]
Sigma = Annotated[float | None, typer.Option(help="Noise std in 8-bit units (25 = 25/255); omit to estimate.")]
Scale = Annotated[int | None, typer.Option(help="Upscaling factor (upscale).")]
Kernel = Annotated[str | None, typer.Option(help="Blur kernel: 'gauss:2.0', 'motion:15,30' or a .npy/.png file.")]
Quality = Annotated[int | None, typer.Option(help="JPEG quality of the input (deblock).")]
ModelPath = Annotated[Path | None, typer.Option(help="Weight file (.safetensors, .pth, .ckpt, MatConvNet .mat) to run instead of a method, or the name of a shipped weight set (see `restora methods`, e.g. upscale_real_x4).")]
Device = Annotated[str, typer.Option(help="Where a --model runs: cpu | cuda | cuda:N | mps | auto.")]
Precision = Annotated[str, typer.Option(help="Precision of a --model: fp32 | fp16 | bf16 | auto (fp32 on CPU, fp16/bf16 on GPU).")]
Ensemble = Annotated[bool, typer.Option(help="x8 self-ensemble of a --model (flips/rotations averaged; 8x slower).")]
Threads = Annotated[int | None, typer.Option(help="CPU threads for torch and OpenCV (default: unchanged).")]


def _progress(label: str):
    """A Rich progress bar usable as a ``progress(done, total)`` callback."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True)
    task_id = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task_id, completed=done, total=total)

    return bar, update


@app.command()
def restore(
    inputs: Annotated[list[Path], typer.Argument(help="Input image(s).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file, or folder for several inputs.")],
    task: AutoTask = None,
    method: Annotated[str | None, typer.Option(help="Registered method (see `restora methods`); default per task.")] = None,
    model: ModelPath = None,
    sigma: Sigma = None,
    scale: Scale = None,
    kernel: Kernel = None,
    quality: Quality = None,
    seed: Annotated[int | None, typer.Option(help="Seed for stochastic methods.")] = None,
    tile: Annotated[int | None, typer.Option(help="Tile size in pixels (0 = whole image; default 512, for a --model the least-work size up to 1024).", show_default=False)] = None,
    overlap: Annotated[int, typer.Option(help="Tile overlap in pixels.")] = 32,
    device: Device = "cpu",
    precision: Precision = "auto",
    batch: Annotated[int, typer.Option(help="Tiles per --model call.")] = 1,
    ensemble: Ensemble = False,
    threads: Threads = None,
    bit_depth: Annotated[int | None, typer.Option(help="Output bits per channel (8, 16, 32); default: the input's.")] = None,
    jpeg_quality: Annotated[int, typer.Option(help="Quality of JPEG/WebP outputs.")] = 95,
    overwrite: Annotated[bool, typer.Option(help="Allow writing over an input file.")] = False,
    max_pixels: Annotated[int | None, typer.Option(help="Refuse images with more pixels (decompression-bomb limit; default $RESTORA_MAX_PIXELS or 200 MP).")] = None,
    explain: Annotated[bool, typer.Option(help="Print what --task auto decided for each photo, and why (stderr).")] = False,
    option: Annotated[list[str] | None, typer.Option("--option", "-O", help="A method's own option, KEY=VALUE, repeatable (e.g. -O iterations=250 for zs_n2n, -O steps=50 for diffpir; `restora methods` lists them).")] = None,
) -> None:
    """Restore photos: decode, run the method (tiled), write with EXIF/ICC kept.

    Without --task, each photo is inspected (JPEG quality, noise level) and gets only the
    steps it needs; --explain prints the decisions.
    """
    from restora.api import output_paths, restore_file

    method_options = parse_method_options(option or [])
    if task is None and method is None and model is None:
        task = "auto"
    if len(inputs) > 1:
        output.mkdir(parents=True, exist_ok=True)
    targets = output_paths(inputs, output)
    failures = 0
    for source, target in zip(inputs, targets):
        bar, update = _progress(source.name)
        on_plan = _explainer(source) if explain and task == "auto" else None
        if explain and task != "auto":
            console.print(f"{source}: method chosen by you (--task/--method/--model): nothing decided "
                          "automatically", markup=False, highlight=False)
        try:
            with bar:
                restore_file(source, target, task=task, method=method, model=model, sigma=sigma, scale=scale,
                             kernel=kernel, quality=quality, seed=seed,
                             tile="auto" if tile is None else (tile or None), overlap=overlap,
                             overwrite=overwrite, bit_depth=bit_depth, max_pixels=max_pixels, jpeg_quality=jpeg_quality,
                             progress=update, device=device, precision=precision, batch=batch,
                             ensemble=ensemble, threads=threads, on_plan=on_plan,
                             method_options=method_options)
        except RestoraError as exc:
            if len(inputs) == 1:
                raise
            failures += 1
            _print_error(exc)
            continue
        console.print(f"{source} -> {target}")
    if failures:
        console.print(f"{failures} of {len(inputs)} image(s) failed")
        raise typer.Exit(2)


def parse_method_options(items: list[str]) -> dict[str, object]:
    """``["iterations=250", "mode=fast"]`` -> ``{"iterations": 250, "mode": "fast"}``: values
    are Python literals (numbers, True/False, None, quoted strings) or else plain strings."""
    import ast

    parsed: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise InvalidParameterError(f"--option {item!r}: expected KEY=VALUE, e.g. --option iterations=250")
        try:
            parsed[key] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            parsed[key] = text.strip()
    return parsed


def _explainer(source: Path):
    """An ``on_plan`` callback printing what the automatic pipeline decided for ``source``."""

    def show(plan) -> None:
        console.print(f"{source}: {plan.explain()}", markup=False, highlight=False, soft_wrap=True)

    return show


@app.command("methods")
def methods_command(
    task: Annotated[str | None, typer.Option(help="Only methods for this task.")] = None,
) -> None:
    """List the registered methods."""
    from restora.methods import list_methods
    from restora.methods.registry import COMMON_OPTIONS

    table = Table(title="restora methods (own options: --option KEY=VALUE)")
    for column in ("name", "task", "channels", "needs", "own options", "description"):
        table.add_column(column, no_wrap=column in ("name", "own options"))
    for m in list_methods(task=task):
        needs = [n for n, flag in (("sigma", m.needs_sigma), ("kernel", m.needs_kernel)) if flag]
        if m.scales:
            needs.append("scale " + "/".join(map(str, m.scales)))
        own = ", ".join(o for o in m.options if o not in COMMON_OPTIONS) or "-"
        table.add_row(m.name, m.task, ",".join(map(str, m.channels)), ", ".join(needs) or "-", own,
                      m.description)
    stdout.print(table)
    from restora.weights import DEFAULT_WEIGHTS

    shipped = [c for c in DEFAULT_WEIGHTS if task is None or c.task == task]
    if shipped:
        weights = Table(title="shipped weights (--model NAME; 'default' = used when only --task is given)")
        for column in ("name", "task", "channels", "scale", "default", "description"):
            weights.add_column(column)
        for c in shipped:
            weights.add_row(c.name, c.task, ",".join(map(str, c.channels)), f"x{c.scale}",
                            "yes" if c.default else "-", c.description)
        stdout.print(weights)


@app.command("eval")
def eval_command(
    dataset: Annotated[Path, typer.Option(help="Folder of clean reference images.")],
    method: Annotated[str | None, typer.Option(help="Registered method; default per task.")] = None,
    model: ModelPath = None,
    task: Task = "denoise",
    sigma: Sigma = None,
    scale: Scale = None,
    quality: Quality = None,
    kernel: Kernel = None,
    protocol: Annotated[str, typer.Option(help="Metric protocol: paper | matlab | rgb.")] = "paper",
    seed: Annotated[int, typer.Option(help="Base seed; image i uses seed + i.")] = 0,
    limit: Annotated[int | None, typer.Option(help="Only the first N images.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the results as JSON.")] = None,
    per_image: Annotated[bool, typer.Option(help="Print the per-image table.")] = True,
    device: Device = "cpu",
    precision: Precision = "auto",
    ensemble: Ensemble = False,
    threads: Threads = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-O", help="A method's own option, KEY=VALUE, repeatable (as for restore).")] = None,
) -> None:
    """Evaluate a method on a dataset with a paper-exact protocol (whole images, untiled)."""
    from restora.api import resolve_method
    from restora.bench import evaluate
    from restora.models.inference import cpu_threads

    channels = None
    if method is None and model is None and task != "auto":  # the default fitting the images
        from restora.bench.evaluate import list_dataset
        from restora.errors import RestoraError
        from restora.io import read_image

        try:
            channels = read_image(list_dataset(dataset)[0]).pixels.shape[2]
        except (RestoraError, IndexError):
            channels = None  # evaluate() reports the dataset problem itself
    info = resolve_method(method, task=task, model=model, device=device, precision=precision, ensemble=ensemble,
                          channels=channels, scale=scale if task == "upscale" else None)
    bar, update = _progress(f"{info.name} on {dataset.name}")
    with bar, cpu_threads(threads):
        result = evaluate(info, dataset, task=task, sigma=sigma, scale=scale, quality=quality,
                          kernel=kernel, protocol=protocol, seed=seed, limit=limit, progress=update,
                          method_options=parse_method_options(option or []))
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
    from restora.models import convert as convert_model

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
    from restora.io import image_info, read_image
    from restora.io.jpeg_quality import estimate_jpeg_quality

    facts = image_info(image)
    facts["JPEG quality (from quantisation tables)"] = estimate_jpeg_quality(image)
    if noise:
        from restora.auto import plan

        # The automatic pipeline's measurement (on luma for chroma-subsampled JPEGs).
        detected = plan(read_image(image)).detected
        facts["estimated noise sigma (8-bit units)"] = round(float(detected["noise_sigma"]), 2)
    table = Table(title=str(image), show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in facts.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        table.add_row(str(key), "-" if value is None else str(value))
    stdout.print(table)


#: Modules that add their own commands with ``register(app)`` (batch, train, serve); each
#: imports its heavy dependencies inside the command, so registering them stays cheap.
_COMMAND_MODULES = ("restora.batch.command", "restora.train.command", "restora.web.command")


def _register_commands() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that part of restora is not built yet
            raise
        module.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning user errors into one line and exit status 2."""
    try:
        app(args=argv, prog_name="restora")  # standalone mode: always ends in SystemExit
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except RestoraError as exc:
        _print_error(exc)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _print_error(exc: BaseException) -> None:
    from rich.text import Text

    console.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
