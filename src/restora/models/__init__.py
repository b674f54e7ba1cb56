"""Load, describe and save restoration networks.

``load_model(path)`` reads safetensors, PyTorch files (never executing code from them) and
the official MatConvNet ``.mat`` releases, recognises the architecture from the weights and
returns a :class:`ModelDescriptor`; ``save_model`` / ``convert`` write safetensors that
restore the exact configuration. Names are loaded on first use (torch is imported lazily).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "ModelDescriptor": "restora.models.descriptor",
    "load_model": "restora.models.loading",
    "save_model": "restora.models.loading",
    "convert": "restora.models.loading",
    "sniff_format": "restora.models.loading",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'restora.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
