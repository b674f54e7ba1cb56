"""Network architectures: one plain :class:`torch.nn.Module` per family, no side effects.

Constructors never pick a device, download weights or touch the file system. Every model
takes and returns NCHW float tensors in [0, 1]. Names are loaded on first use so that
``import restora.archs`` does not import torch.
"""

from __future__ import annotations

from restora._lazy import lazy_exports

_LAZY = {
    "DnCNN": "restora.archs.dncnn",
    "merge_batch_norm": "restora.archs.dncnn",
    "FFDNet": "restora.archs.ffdnet",
    "DRUNet": "restora.archs.drunet",
    "NAFNet": "restora.archs.nafnet",
    "EDSR": "restora.archs.edsr",
    "EDMPrecond": "restora.archs.edm",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
