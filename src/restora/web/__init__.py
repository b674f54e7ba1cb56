"""``restora serve``: a local web page and HTTP API over :func:`restora.api.restore`.

``create_app(settings)`` builds the FastAPI application (extra ``web``: fastapi, uvicorn,
python-multipart); :class:`ServerSettings` holds the limits. Importing this package is
cheap: FastAPI is imported only when an app is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from restora.web.settings import ServerSettings

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """The restora web application (page at ``/``, API under ``/api``); see :mod:`restora.web.app`."""
    from restora.web.app import create_app as _create_app

    return _create_app(settings)


__all__ = ["ServerSettings", "create_app"]
