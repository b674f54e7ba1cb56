"""``restora restore`` shows a progress bar with MP/s and ETA on a terminal, for slow runs only."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

import restora.cli
import restora.console
import restora.run
from restora.cli import main


@pytest.fixture
def terminal(monkeypatch):
    """A terminal-like stderr console whose text the test reads."""
    buffer = io.StringIO()
    fake = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    monkeypatch.setattr(restora.console, "console", fake)
    monkeypatch.setattr(restora.cli, "console", fake)
    return buffer


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "in.png"
    Image.fromarray(rng.integers(0, 256, (200, 240, 3), dtype=np.uint8)).save(path)
    return path


def _slow(seconds):
    def run(info, tile, **kwargs):
        time.sleep(seconds)
        return tile

    return run


def test_a_slow_run_shows_the_bar_with_megapixels_per_second_and_eta(monkeypatch, terminal, photo, tmp_path):
    monkeypatch.setattr(restora.console, "SHOW_AFTER_S", 0.3)
    monkeypatch.setattr(restora.run, "run_method", _slow(0.3))  # 4 tiles (nlm: overlap 64): 1.2 s
    code = main(["restore", str(photo), "-o", str(tmp_path / "out.png"), "--task", "denoise",
                 "--method", "nlm", "--sigma", "10", "--tile", "150"])
    assert code == 0
    text = terminal.getvalue()
    assert "in.png" in text and "MP/s" in text and "ETA 0:0" in text
    assert "->" in text and (tmp_path / "out.png").is_file()


def test_a_quick_run_shows_no_bar(monkeypatch, terminal, photo, tmp_path):
    monkeypatch.setattr(restora.console, "SHOW_AFTER_S", 5.0)
    code = main(["restore", str(photo), "-o", str(tmp_path / "out.png"), "--task", "denoise",
                 "--method", "nlm", "--sigma", "10"])
    assert code == 0
    text = terminal.getvalue()
    assert "MP/s" not in text and "ETA" not in text and "->" in text
