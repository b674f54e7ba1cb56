"""What ``pip install restora`` (a wheel, not this checkout) gives a user: every data file the
package reads at run time, and ``python -m restora`` as the same CLI as the script."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _copy_of_checkout(destination: Path) -> Path:
    """The files git would hand to a fresh clone (tracked and new, not ignored), as they are now.

    Built from here rather than from the checkout itself, whose ``*.egg-info`` left by an
    editable install lists data files that ``package-data`` may not."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
        text=True, check=False,
    )
    if listed.returncode != 0 or not listed.stdout.strip():
        pytest.skip("not a git checkout")
    for line in listed.stdout.splitlines():
        source = ROOT / line
        if source.is_file():
            target = destination / line
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.mark.slow
def test_wheel_holds_every_data_file_and_the_weights_registry(tmp_path: Path) -> None:
    setuptools = pytest.importorskip("setuptools")  # the build backend, no network: no isolation
    version = tuple(int(part) for part in setuptools.__version__.split(".")[:2] if part.isdigit())
    if version < (70, 1) and importlib.util.find_spec("wheel") is None:
        pytest.skip(f"setuptools {setuptools.__version__} without the wheel package cannot build a wheel")
    source = _copy_of_checkout(tmp_path / "clone")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, check=False, timeout=300,
    )
    if built.returncode != 0 and "No module named" in built.stderr:
        pytest.skip(f"cannot build a wheel here: {built.stderr.strip().splitlines()[-1]}")
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("restora-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data_files = {
        str(path.relative_to(source / "src"))
        for path in (source / "src" / "restora").rglob("*")
        if path.is_file() and path.suffix != ".py"
    }
    missing = sorted(data_files - names)
    assert not missing, f"package data left out of the wheel: {missing}"

    from restora.weights import DEFAULT_WEIGHTS

    for card in DEFAULT_WEIGHTS:
        assert f"restora/weights/{card.file}" in names
        assert f"restora/weights/{card.card_path}" in names


def test_python_dash_m_restora_is_the_cli(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_photo.png"
    run = subprocess.run(
        [sys.executable, "-m", "restora", "restore", str(missing), "-o", str(tmp_path / "out.png")],
        capture_output=True, text=True, check=False, timeout=120, cwd=tmp_path,
    )
    assert run.returncode == 2
    assert run.stdout.count("\n") + run.stderr.count("\n") == 1, (run.stdout, run.stderr)
    assert str(missing) in run.stdout + run.stderr
    assert "file not found" in run.stdout + run.stderr
    assert not (tmp_path / "out.png").exists()


def test_version_flag_prints_the_package_version(tmp_path: Path) -> None:
    import restora

    run = subprocess.run(
        [sys.executable, "-m", "restora", "--version"],
        capture_output=True, text=True, check=False, timeout=120, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"restora {restora.__version__} (Python ")
    code = (
        "import sys; from restora.cli import main; code = main(['--version']); "
        "print('torch' in sys.modules, code)"
    )
    probe = subprocess.run(  # the flag itself imports no torch
        [sys.executable, "-c", code],
        capture_output=True, text=True, check=False, timeout=120, cwd=tmp_path,
    )
    assert probe.stdout.strip().splitlines()[-1] == "False 0", probe.stdout + probe.stderr
