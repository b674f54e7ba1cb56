"""Load, describe and save restoration networks.

``load_model(path)`` reads safetensors, PyTorch files (never executing code from them) and
the official MatConvNet ``.mat`` releases, recognises the architecture from the weights and
returns a :class:`ModelDescriptor`; ``save_model`` / ``save_network`` (a network of the
architecture table, as the trainer writes it) / ``convert`` write safetensors that restore
the exact configuration. Names are loaded on first use (torch is imported lazily).
"""

from __future__ import annotations

from restora._lazy import lazy_exports

_LAZY = {
    "ModelDescriptor": "restora.models.descriptor",
    "load_model": "restora.models.loading",
    "save_model": "restora.models.loading",
    "save_network": "restora.models.loading",
    "convert": "restora.models.loading",
    "sniff_format": "restora.models.loading",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)
