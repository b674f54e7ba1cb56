"""Zoo tests: a private cache folder with the network allowed, and a file server on
127.0.0.1 (never the real hosts); the package's zoo table is restored afterwards."""

from __future__ import annotations

import pytest

from restora import zoo
from tests.zoo.zoo_server import ZooServer


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The cache's ``models`` folder (``$RESTORA_CACHE/models``), online."""
    monkeypatch.setenv("RESTORA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RESTORA_OFFLINE", raising=False)
    yield tmp_path / "cache" / "models"
    zoo.use_registry(None)


@pytest.fixture
def server(cache):
    srv = ZooServer()
    yield srv
    srv.close()
