"""The real pins against real bytes: the authors' KAIR files (../shared/weights/kair), served
from 127.0.0.1 under the package's own zoo entries, pull, verify and denoise by name with
the published accuracy on a known image (skips when ../shared is absent)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from restora import degrade, zoo
from restora.api import restore
from restora.metrics import psnr
from tests.conftest import shared_weight

pytestmark = pytest.mark.shared

KAIR = ["dncnn_25", "dncnn_color_blind", "dncnn_gray_blind", "ffdnet_gray", "ffdnet_color"]


@pytest.mark.parametrize("name", KAIR)
def test_kair_file_matches_its_pin_and_denoises(name, server, astronaut, camera):
    data = shared_weight(f"kair/{name}.pth").read_bytes()
    entry = zoo.load_registry()[name]
    url = server.serve(f"/{name}.pth", data)
    zoo.use_registry({name: replace(entry, urls=(url,))})  # the package's pin, a local URL
    path = zoo.pull(name)
    assert path.read_bytes() == data
    clean = (astronaut if entry.channels == 3 else camera)[128:320, 128:320]
    noisy = degrade.add_gaussian_noise(clean, 25, seed=0).astype(np.float32)
    options = {"sigma": 25} if entry.arch == "ffdnet" else {}
    out = restore(noisy, model=name, **options)
    gain = psnr(clean, np.clip(out, 0, 1)) - psnr(clean, np.clip(noisy, 0, 1))
    assert gain > 7.0, f"{name} gains only {gain:.2f} dB at sigma 25"
