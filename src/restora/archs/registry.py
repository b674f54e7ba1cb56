"""The one architecture table: each network family declared once, in its own module.

Every module of :mod:`restora.archs` whose name does not start with ``_`` is an
architecture named after the module, and declares ``SPEC = ArchSpec(...)``: the module
class, its calling contract (task, noise-level input, size multiple, default channel
count), its receptive field for tiling, how to recognise it from a state dict, the loss it
trains with, and spandrel's name for the same family. Detection
(:func:`restora.models.load_model`), building (loading and ``restora train``), the trainer
and tiling all read it (the spandrel ``ArchSupport`` pattern). Adding an architecture is one
new module (class, detector, ``SPEC``) plus its test.

:func:`arch_names` lists the names without importing torch (for config checks);
:func:`get_spec` / :func:`specs` import the modules on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restora.errors import InvalidParameterError

if TYPE_CHECKING:
    from torch import Tensor, nn

StateDict = dict[str, "Tensor"]
#: ``detect(state, bn_eps) -> (config, state renamed to our layout)`` or ``None``.
Detector = Callable[[StateDict, Mapping[str, float]], "tuple[dict[str, Any], StateDict] | None"]

#: Tiling reach (pixels) assumed for networks whose receptive field is not declared.
DEFAULT_HALO = 32
_PACKAGE = "restora.archs"
_NOT_ARCHS = {"registry"}


@dataclass(frozen=True)
class ArchSpec:
    """One architecture.

    name: the module's name (``"drunet"``). cls: the ``nn.Module`` class. task: what a
    network of it does unless its file says otherwise (``denoise``, ``deblock``,
    ``upscale``, ``restore`` = general). needs_sigma: takes a noise level (refined per
    built module by its ``noise_map`` attribute). size_multiple: H and W are padded to it by
    edge replication before the network runs (1: the network pads itself, as NAFNet does),
    an int or ``f(built module)``.
    rgb_default: ``in_channels`` defaults to 3 (else 1) when the config does not say.
    halo: pixels of context per output pixel for tiling, an int or ``f(config)``.
    normalise_config: JSON config -> constructor arguments (e.g. lists -> tuples).
    detect: recognises a foreign state dict (``None``: only restora's own safetensors,
    which carry the name). detect_order: lower runs first (specific before generic).
    train_loss: the loss ``restora train`` must use with it (``None``: any).
    spandrel: spandrel's architecture id for the same family, when it has one.
    cpu_engines: the graph engines measured faster than torch for it on the CPU
    (``"openvino"``, ``"onnxruntime"``), fastest first (``benchmarks/cpu_engines.py``);
    ``backend="auto"`` takes the first one installed that runs the precision, else torch.
    onnx: an ONNX export computes the network for every input size (``False`` where the
    forward pass branches on the input's size, which tracing would freeze).
    example: a tiny configuration (the architecture sweep test builds, saves, detects and
    reloads it).
    """

    name: str
    cls: type[nn.Module]
    task: str
    needs_sigma: bool = False
    size_multiple: int | Callable[[nn.Module], int] = 1
    rgb_default: bool = False
    halo: int | Callable[[Mapping[str, Any]], int] = DEFAULT_HALO
    normalise_config: Callable[[dict[str, Any]], dict[str, Any]] = dict
    detect: Detector | None = None
    detect_order: int = 100
    train_loss: str | None = None
    spandrel: str | None = None
    cpu_engines: tuple[str, ...] = ()
    onnx: bool = True
    example: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cpu_engines and not self.onnx:
            raise TypeError(f"{self.name}: graph engines (cpu_engines) need onnx=True")

    def build(self, config: Mapping[str, Any]) -> nn.Module:
        """The module for a (JSON) config; raises :class:`InvalidParameterError` for bad ones."""
        try:
            return self.cls(**self.normalise_config(dict(config)))
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(f"bad {self.name} configuration {dict(config)}: {exc}") \
                from None

    def reach(self, config: Mapping[str, Any]) -> int:
        """Tiling reach (pixels) of a network with this config."""
        return self.halo(config) if callable(self.halo) else int(self.halo)

    def in_channels(self, config: Mapping[str, Any]) -> int:
        return int(config.get("in_channels", 3 if self.rgb_default else 1))

    def contract(self, model: nn.Module) -> dict[str, Any]:
        """``task``, ``needs_sigma``, ``size_multiple`` and ``scale`` of a built network."""
        return {
            "task": self.task,
            "needs_sigma": bool(getattr(model, "noise_map", self.needs_sigma)),
            "size_multiple": (self.size_multiple(model) if callable(self.size_multiple)
                              else int(self.size_multiple)),
            "scale": int(getattr(model, "scale", 1)),
        }


def tuples(*keys: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A ``normalise_config`` turning the JSON lists under ``keys`` into tuples."""

    def normalise(config: dict[str, Any]) -> dict[str, Any]:
        return {k: tuple(v) if k in keys and isinstance(v, list) else v for k, v in config.items()}

    return normalise


def arch_names() -> tuple[str, ...]:
    """Names of every architecture, sorted (no import of the modules, so no torch)."""
    path = [str(Path(__file__).parent)]
    return tuple(sorted(m.name for m in pkgutil.iter_modules(path)
                        if not m.name.startswith("_") and m.name not in _NOT_ARCHS))


_SPECS: dict[str, ArchSpec] = {}
_LOCK = threading.Lock()


def specs() -> tuple[ArchSpec, ...]:
    """Every :class:`ArchSpec`, in detection order (imports the modules once)."""
    with _LOCK:
        if not _SPECS:
            found: dict[str, ArchSpec] = {}
            for name in arch_names():
                spec = getattr(importlib.import_module(f"{_PACKAGE}.{name}"), "SPEC", None)
                if not isinstance(spec, ArchSpec) or spec.name != name:
                    raise TypeError(f"{_PACKAGE}.{name} must define SPEC = ArchSpec(name={name!r}, ...)")
                found[name] = spec
            _SPECS.update(sorted(found.items(), key=lambda kv: (kv[1].detect_order, kv[0])))
    return tuple(_SPECS.values())


def get_spec(name: str) -> ArchSpec:
    """The spec called ``name``; raises :class:`InvalidParameterError` naming the known ones."""
    for spec in specs():
        if spec.name == name:
            return spec
    raise InvalidParameterError(f"unknown architecture {name!r}; known: {', '.join(arch_names())}")


def strip_prefixes(state: StateDict) -> StateDict:
    """Drop a ``module.`` prefix (DataParallel) shared by every key."""
    while state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def detect(state: StateDict, bn_eps: Mapping[str, float] | None = None
           ) -> tuple[ArchSpec, dict[str, Any], StateDict] | None:
    """The first architecture whose detector recognises ``state`` (with the config and the
    state renamed to its layout), or ``None``. ``bn_eps``: BatchNorm module path -> eps."""
    state = strip_prefixes(state)
    for spec in specs():
        if spec.detect is None:
            continue
        found = spec.detect(state, bn_eps or {})
        if found is not None:
            return spec, found[0], found[1]
    return None


def count_indices(state: Mapping[str, Any], pattern: str) -> int:
    """How many distinct values the first group of ``pattern`` takes over the keys."""
    rx = re.compile(pattern)
    return len({m.group(1) for k in state if (m := rx.match(k))})


def has_keys(state: Mapping[str, Any], *keys: str) -> bool:
    return all(k in state for k in keys)


__all__ = ["ArchSpec", "DEFAULT_HALO", "arch_names", "count_indices", "detect", "get_spec",
           "has_keys", "specs", "strip_prefixes", "tuples"]
