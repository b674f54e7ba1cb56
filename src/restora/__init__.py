"""restora: restore and enhance photos, and measure restoration the way the papers do.

The data path: decode (:mod:`restora.io`) -> float image -> method(s) chosen per image
(:mod:`restora.run`, from :mod:`restora.defaults` or the request of :mod:`restora.options`;
tiled by :mod:`restora.pipeline`) -> encode. ``import restora`` is cheap; the names below are
loaded on first use.
"""

from __future__ import annotations

from restora._lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "read_image": "restora.io",
    "write_image": "restora.io",
    "Photo": "restora.io",
    "restore": "restora.api",
    "restore_file": "restora.api",
    "Restorer": "restora.run",
    "Request": "restora.options",
    "get_method": "restora.methods.registry",
    "list_methods": "restora.methods.registry",
    "evaluate": "restora.bench",
    "load_model": "restora.models",
    "RestoraError": "restora.errors",
}

__getattr__, __dir__, _ = lazy_exports(__name__, _LAZY)
__all__ = sorted(_LAZY) + ["__version__"]
