"""restora: restore and enhance photos, and measure restoration the way the papers do.

The data path: decode (:mod:`restora.io`) -> float image -> method(s) (:mod:`restora.methods`,
tiled by :mod:`restora.pipeline`) -> encode. ``import restora`` is cheap; the names below are
loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "read_image": "restora.io",
    "write_image": "restora.io",
    "Photo": "restora.io",
    "restore": "restora.api",
    "restore_file": "restora.api",
    "get_method": "restora.methods.registry",
    "list_methods": "restora.methods.registry",
    "evaluate": "restora.bench",
    "load_model": "restora.models",
    "RestoraError": "restora.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'restora' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
