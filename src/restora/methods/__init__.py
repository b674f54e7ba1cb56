"""Restoration methods, all registered in :data:`restora.methods.registry.REGISTRY`.

Importing this package registers the built-in methods (cheap: heavy libraries are imported
inside each method when it runs).
"""

from restora.methods import (
    classical,  # noqa: F401  (registers the classical methods)
    diffusion,  # noqa: F401  (registers diffpir)
    pnp,  # noqa: F401  (registers pnp)
    zeroshot,  # noqa: F401  (registers zs_n2n)
)
from restora.methods.registry import (
    REGISTRY,
    MethodInfo,
    get_method,
    list_methods,
    register_method,
    run_method,
)

__all__ = ["REGISTRY", "MethodInfo", "get_method", "list_methods", "register_method", "run_method"]
