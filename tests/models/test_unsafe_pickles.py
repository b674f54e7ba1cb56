"""Weight files crafted to run code on unpickling are refused, and nothing runs."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from restora.errors import ModelLoadError, UnsafeModelError
from restora.models import load_model


class _System:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


class _Exec:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _writers(payload: object):
    return {
        "raw_pickle.pth": lambda p: p.write_bytes(pickle.dumps(payload, protocol=2)),
        "raw_pickle_p4.bin": lambda p: p.write_bytes(pickle.dumps({"state_dict": payload}, protocol=4)),
        "torch_zip.pth": lambda p: torch.save({"weight": torch.zeros(2), "x": payload}, p),
        "torch_legacy.pth": lambda p: torch.save({"x": payload}, p, _use_new_zipfile_serialization=False),
    }


@pytest.mark.parametrize("container", list(_writers(None)))
def test_os_system_is_refused_and_not_run(container: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / container
    _writers(_System(marker))[container](path)
    with pytest.raises(UnsafeModelError) as info:
        load_model(path)
    assert not marker.exists()
    msg = str(info.value)
    assert str(path) in msg
    assert f"'{os.system.__module__}.system'" in msg  # 'posix.system' on Linux/macOS


@pytest.mark.parametrize("container", ["raw_pickle.pth", "torch_zip.pth"])
def test_builtins_exec_is_refused_and_not_run(container: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / container
    _writers(_Exec(marker))[container](path)
    with pytest.raises(UnsafeModelError, match=r"'builtins\.exec'"):
        load_model(path)
    assert not marker.exists()


def test_unsafe_error_is_a_model_load_error(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(_System(tmp_path / "x")))
    with pytest.raises(ModelLoadError):  # callers catching the broad error still catch it
        load_model(path)
    assert not (tmp_path / "x").exists()
