"""``restora fuse`` and ``restora burst``: several photos of one scene -> one photo.

Thin wrappers over :meth:`restora.run.Restorer.run_frames_file`; their options are the
:class:`~restora.options.Frames` fields (and the restore options that apply), declared once
in :mod:`restora.options`.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Annotated

import typer

from restora.cli_options import request_options
from restora.console import console, progress_bar
from restora.errors import InvalidParameterError
from restora.options import (
    BURST_MERGES,
    FUSE_MERGES,
    Choice,
    Execution,
    Frames,
    Output,
    Params,
    Request,
)
from restora.run import Restorer

#: Options that do not apply to merging exposures (no restoration method runs) or to one
#: output file.
_ONE_FILE = ("format", "suffix")
FUSE_EXCLUDE = (*(f.name for f in fields(Params) if f.name != "sigma"), *_ONE_FILE, "denoise",
                "device", "precision", "tile", "overlap", "batch", "ensemble")
#: A burst is denoised after the merge: its method options apply, those of other tasks and
#: of exposure brackets do not.
BURST_EXCLUDE = (*(f.name for f in fields(Params) if f.name not in ("sigma", "seed", "options")),
                 *_ONE_FILE, "task", "times", "hdr", "tonemap", "deghost")

_FRAMES = Annotated[list[Path], typer.Argument(help="The frames, two or more photos of one scene.",
                                               show_default=False)]
_OUTPUT = Annotated[Path, typer.Option("--output", "-o", help="Output file (its suffix picks the format).")]
_EXPLAIN = Annotated[bool, typer.Option(help="Print what was done, and why (stderr).")]


@request_options(groups=(Frames, Params, Execution, Output), exclude=FUSE_EXCLUDE,
                 defaults={"merge": "fuse"})
def fuse(frames: _FRAMES, output: _OUTPUT, explain: _EXPLAIN = False, *,
         request: Request) -> None:
    """Merge exposure brackets into one photo: align, remove ghosts, fuse (Mertens) or, with
    exposure times (EXIF or --times), merge to HDR radiance (--hdr) and tone-map.

    The reference frame (the middle exposure unless --reference) keeps its EXIF/ICC.
    """
    _run(request, frames, output, "fuse", FUSE_MERGES, explain)


@request_options(groups=(Frames, Choice, Params, Execution, Output), exclude=BURST_EXCLUDE,
                 defaults={"merge": "burst"})
def burst(frames: _FRAMES, output: _OUTPUT, explain: _EXPLAIN = False, *,
          request: Request) -> None:
    """Merge a burst (frames of one exposure) into one photo with less noise: align to the
    reference frame, merge robustly, then denoise at the lowered noise level.

    The denoiser is the default of `restora restore --task denoise`, or --method/--model.
    """
    _run(request, frames, output, "burst", BURST_MERGES, explain)


def _run(request: Request, frames: list[Path], output: Path, kind: str,
         merges: tuple[str, ...], explain: bool) -> None:
    if request.frames.kind != kind:
        raise InvalidParameterError(
            f"restora {kind} merges with --merge {' | '.join(merges)}; got {request.frames.merge!r}")
    choice = replace(request.choice, task="denoise") if kind == "burst" else Choice()
    restorer = Restorer(choice, request.execution)
    restorer.check()
    bar, update = progress_bar(output.name)
    with bar:
        _, report = restorer.run_frames_file(frames, output, request.frames, request.params,
                                             request.output, progress=update)
    if explain:
        console.print(report.decision, markup=False, highlight=False, soft_wrap=True)
    hdr = "" if request.frames.hdr is None or report.radiance is None else f" and {request.frames.hdr}"
    console.print(f"{len(frames)} frames -> {output}{hdr}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("fuse")(fuse)
    app.command("burst")(burst)


__all__ = ["BURST_EXCLUDE", "FUSE_EXCLUDE", "burst", "fuse", "register"]
