"""Command-line options built from :mod:`restora.options`: one declaration, every command.

:func:`request_options` adds one Typer option per field of the request dataclasses
(``--sigma``, ``--device``, ``--option/-O`` ...) to a command, with the field's default and
help text, and hands the command a validated :class:`~restora.options.Request`. ``restora
restore``, ``restora batch`` and ``restora eval`` use it, so a new option is declared once in
:mod:`restora.options` and appears in all of them.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, Field, fields
from typing import Annotated, Any

import typer

from restora.options import GROUPS, Frames, Request, parse_method_options

#: Short flags of a few options.
SHORT = {"options": "-O"}


def _cli_type(f: Field[Any], hint: Any) -> Any:
    """The type Typer parses a field as: the field's own for numbers, strings and flags;
    a string for files, specs and tiles; repeated KEY=VALUE strings for method options."""
    if f.name == "options":
        return list[str] | None
    args = set(typing.get_args(hint)) - {type(None)}
    if hint in (bool, int, float, str):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        (inner,) = args
        if inner in (int, float, str):
            return inner | None
    return str | None if f.default is None else str


def _default(f: Field[Any]) -> Any:
    return None if f.default is MISSING else f.default


def _parameters(groups: Iterable[type], exclude: set[str], defaults: Mapping[str, Any]
                ) -> list[inspect.Parameter]:
    params = []
    for group in groups:
        hints = typing.get_type_hints(group)
        for f in fields(group):
            if f.name in exclude:
                continue
            flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
            decls = [flag] + ([SHORT[f.name]] if f.name in SHORT else [])
            option = typer.Option(*decls, help=f.metadata["help"], show_default=f.name != "options")
            default = defaults.get(f.name, _default(f))
            if f.name == "options":
                default = None
            params.append(inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                annotation=Annotated[_cli_type(f, hints[f.name]), option]))
    return params


def request_options(*, groups: tuple[type, ...] = GROUPS, exclude: Iterable[str] = (),
                    defaults: Mapping[str, Any] | None = None
                    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for a Typer command taking ``request: Request``: the command gets one option
    per field of ``groups`` (less ``exclude``; ``defaults`` overrides a default shown and
    used), and receives them as one validated :class:`Request`."""
    skip = set(exclude)
    shown = dict(defaults or {})

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        hints = typing.get_type_hints(command, include_extras=True)
        own = [p.replace(annotation=hints.get(name, p.annotation))
               for name, p in inspect.signature(command).parameters.items() if name != "request"]
        added = _parameters(groups, skip, shown)
        names = {p.name for p in added}

        @functools.wraps(command)
        def wrapper(**values: Any) -> Any:
            request_values = {k: v for k, v in values.items() if k in names}
            request_values["options"] = parse_method_options(request_values.get("options") or [])
            request = Request.from_mapping(request_values, source="command line",
                                           frames=Frames in groups)
            return command(request=request, **{k: v for k, v in values.items() if k not in names})

        wrapper.__signature__ = inspect.Signature(own + added)  # type: ignore[attr-defined]
        hints.pop("request", None)
        hints.update({p.name: p.annotation for p in added})
        wrapper.__annotations__ = hints
        del wrapper.__wrapped__  # Typer must read the new signature, not the command's
        return wrapper

    return decorate


__all__ = ["request_options"]
