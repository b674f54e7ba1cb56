"""Restoration methods, all registered in :data:`restora.methods.registry.REGISTRY`.

Importing this package registers the built-in methods (cheap: heavy libraries are imported
inside each method when it runs): classical ones, low-light enhancement, plug-and-play,
diffusion posterior sampling and zero-shot. :func:`get_method` and :func:`list_methods` look
them up.
"""

from __future__ import annotations

from restora.methods import (
    classical,  # noqa: F401  (registers the classical methods)
    diffusion,  # noqa: F401  (registers diffpir and dps)
    lowlight,  # noqa: F401  (registers gamma, clahe, lime and zerodce)
    pnp,  # noqa: F401  (registers pnp)
    zeroshot,  # noqa: F401  (registers zs_n2n)
)
from restora.methods.registry import REGISTRY, MethodInfo, register_method, run_method


def get_method(name: str) -> MethodInfo:
    """Look up a registered method by name; raises :class:`UnknownMethodError` listing them."""
    return REGISTRY.get(name)


def list_methods(task: str | None = None, pattern: str = "*") -> list[MethodInfo]:
    """Registered methods, in registration order, optionally filtered by task and glob."""
    return REGISTRY.list(task=task, pattern=pattern)


__all__ = ["REGISTRY", "MethodInfo", "get_method", "list_methods", "register_method", "run_method"]
