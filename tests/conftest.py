"""Shared fixtures: paths to ../shared (tests that need it skip cleanly when absent)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATASETS = SHARED / "datasets"
WEIGHTS = SHARED / "weights"


def shared_dataset(name: str) -> Path:
    """Path of ``../shared/datasets/<name>``, or skip the test when it is absent."""
    path = DATASETS / name
    if not path.is_dir():
        pytest.skip(f"../shared/datasets/{name} not present")
    return path


def benchmark_script(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (a script, not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_weight(relative: str) -> Path:
    """Path of ``../shared/weights/<relative>``, or skip the test when it is absent."""
    path = WEIGHTS / relative
    if not path.is_file():
        pytest.skip(f"../shared/weights/{relative} not present")
    return path


@pytest.fixture
def astronaut() -> np.ndarray:
    """scikit-image's public-domain ``astronaut``, 512x512 RGB, HWC float32 in [0, 1]."""
    from skimage import data

    return data.astronaut().astype(np.float32) / 255.0


@pytest.fixture
def camera() -> np.ndarray:
    """scikit-image's public-domain ``camera``, 512x512 gray, HW1 float32 in [0, 1]."""
    from skimage import data

    return (data.camera().astype(np.float32) / 255.0)[..., None]


@pytest.fixture(autouse=True)
def _shipped_defaults_unless_marked(request, monkeypatch):
    """Tests run what users run: the shipped default weights, on. A test that pins the
    classical fallback asks for it with the ``classical_defaults`` marker, which switches
    the weights off through $RESTORA_DEFAULT_WEIGHTS (inherited by subprocesses)."""
    if request.node.get_closest_marker("classical_defaults") is not None:
        monkeypatch.setenv("RESTORA_DEFAULT_WEIGHTS", "off")
    else:
        monkeypatch.delenv("RESTORA_DEFAULT_WEIGHTS", raising=False)


@pytest.fixture(autouse=True, scope="session")
def _private_model_cache(tmp_path_factory):
    """The model zoo's cache is a fresh folder per test session (never the user's), and
    nothing is downloaded from the internet: zoo tests serve files from 127.0.0.1."""
    import os

    cache = tmp_path_factory.mktemp("restora-cache")
    old = {k: os.environ.get(k) for k in ("RESTORA_CACHE", "RESTORA_OFFLINE")}
    os.environ["RESTORA_CACHE"] = str(cache)
    os.environ["RESTORA_OFFLINE"] = "1"
    yield cache
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
