"""Network architectures: one plain :class:`torch.nn.Module` per family, no side effects.

Constructors never pick a device, download weights or touch the file system. Every model
takes and returns NCHW float tensors in [0, 1]. Names are loaded on first use so that
``import restora.archs`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "DnCNN": "restora.archs.dncnn",
    "merge_batch_norm": "restora.archs.dncnn",
    "FFDNet": "restora.archs.ffdnet",
    "DRUNet": "restora.archs.drunet",
    "NAFNet": "restora.archs.nafnet",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'restora.archs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
