"""``restora models list|pull|info|verify|rm`` (the model zoo) and ``restora export``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from restora import zoo
from restora.console import console, stdout
from restora.errors import ZooError
from restora.methods.denoisers import load_network
from restora.models.export import export_model
from restora.weights import find_card

models_app = typer.Typer(help="The model zoo: published models by name, downloaded once, "
                              "verified against pinned hashes, with their licences.",
                         no_args_is_help=True)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size else "?"


@models_app.command("list")
def list_command(
    task: Annotated[str | None, typer.Option(help="Only models for this task.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for tools).")] = False,
) -> None:
    """Every zoo model: task, size, licence, whether its hash is pinned and it is pulled."""
    entries = [e for e in zoo.registry().values() if task is None or e.task == task]
    if as_json:
        rows = [{**e.to_dict(), "pulled": zoo.is_pulled(e), "path": str(zoo.path_of(e))} for e in entries]
        stdout.print_json(json.dumps(rows))
        return
    table = Table(title=f"restora model zoo (cache: {zoo.cache_dir()})")
    for column in ("name", "task", "size", "licence", "pinned", "pulled"):
        table.add_column(column, no_wrap=True)
    for e in entries:
        licence = e.licence.split(" ")[0] + (" (opt-in)" if e.needs_opt_in else "")
        task = e.task + (f" x{e.scale}" if e.scale > 1 else "") + (" gray" if e.channels == 1 else "")
        table.add_row(e.name, task, _mb(e.size), licence, "yes" if e.pinned else "first pull",
                      "yes" if zoo.is_pulled(e) else "-")
    stdout.print(table)


@models_app.command("pull")
def pull_command(
    names: Annotated[list[str], typer.Argument(help="Zoo model name(s).", show_default=False)],
    accept_licence: Annotated[bool, typer.Option(help="Accept non-commercial or flagged terms (shown first).")] = False,
) -> None:
    """Download models (verified against their size and SHA-256; mirrors on failure)."""
    for name in names:
        entry = zoo.get(name)
        if entry.needs_opt_in:
            console.print(f"{entry.name}: licence {entry.licence}; {entry.licence_flag or 'non-commercial use only'}",
                          markup=False)
        path = zoo.pull(name, accept_licence=accept_licence)
        console.print(f"{entry.name}: {path} ({_mb(path.stat().st_size)}, licence {entry.licence})",
                      markup=False)


@models_app.command("info")
def info_command(name: Annotated[str, typer.Argument(help="Zoo model name.", show_default=False)]) -> None:
    """The model's card: source, licence, size, hash, published and measured numbers."""
    e = zoo.get(name)
    sha, size = zoo.expected(e)
    table = Table(title=e.name, show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    rows = [("description", e.description), ("task", f"{e.task}, x{e.scale}, {e.channels} channel(s)"),
            ("architecture", e.arch), ("official URL", e.urls[0]),
            ("mirrors", ", ".join(e.urls[1:]) or "-"), ("size", f"{size} bytes" if size else "not recorded"),
            ("sha256", sha or "no record: pinned on the first download"), ("hash source", e.hash_source),
            ("licence", e.licence), ("terms", e.licence_flag or ("non-commercial" if e.non_commercial else "-")),
            ("published", e.published or "-"), ("measured by restora", e.measured or "not yet"),
            ("automatic mode", f"preferred for {e.prefer_for} once pulled" if e.prefer_for else "-"),
            ("notes", e.notes or "-"),
            ("pulled", str(zoo.path_of(e)) if zoo.is_pulled(e) else "no")]
    for key, value in rows:
        table.add_row(key, value)
    stdout.print(table)


@models_app.command("verify")
def verify_command(
    names: Annotated[list[str] | None, typer.Argument(help="Models (default: every pulled one).", show_default=False)] = None,
) -> None:
    """Re-check pulled files against their pinned size and SHA-256."""
    entries = [zoo.get(n) for n in names] if names else zoo.pulled()
    bad = []
    for e in entries:
        try:
            zoo.verify(e.name)
            console.print(f"{e.name}: ok", markup=False)
        except ZooError as exc:
            bad.append(str(exc))
    if bad:
        raise ZooError(f"{len(bad)} of {len(entries)} failed: " + "; ".join(bad))
    if not entries:
        console.print("no zoo models pulled")


@models_app.command("rm")
def rm_command(names: Annotated[list[str], typer.Argument(help="Zoo model name(s).", show_default=False)]) -> None:
    """Delete pulled models from the cache folder."""
    for name in names:
        removed = zoo.remove(name)
        console.print(f"{name}: {'removed' if removed else 'was not pulled'}", markup=False)


def export_command(
    model: Annotated[str, typer.Argument(help="A shipped weight set (e.g. denoise_color), zoo model or weight file.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file.")],
    fmt: Annotated[str, typer.Option("--format", help="safetensors (loads in spandrel: chaiNNer, ComfyUI) | onnx.")] = "safetensors",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
) -> None:
    """Write a model for other tools; the export is loaded back and compared before it is kept."""
    descriptor = load_network(model)
    diff = export_model(descriptor, output, fmt, overwrite=overwrite)
    card = find_card(model)
    licence = card.licence if card is not None else (descriptor.licence or "see the source")
    console.print(f"{model} -> {output} ({fmt}; max difference {diff:.1e} on a test image; licence {licence})",
                  markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.command("export")(export_command)
