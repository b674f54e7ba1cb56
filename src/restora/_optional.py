"""Import optional dependencies with a helpful error naming the pip extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from restora.errors import MissingExtraError


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` with the install command.

    ``extra`` is the restora extra that provides it (``raw``, ``heic``, ``ray``, ...);
    ``purpose`` says what it is needed for, e.g. ``"reading camera RAW files"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs the optional package '{module.split('.')[0]}' "
            f"(not installed: {exc}). Install it with: pip install 'restora[{extra}]'"
        ) from None
