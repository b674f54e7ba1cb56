"""The compact x4 network: its bicubic start equals MATLAB bicubic; spandrel runs its weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restora.archs.compact import Compact, bicubic_taps
from restora.degrade import imresize


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_start_is_matlab_bicubic_inside_the_image(scale):
    net = Compact(3, 3, scale, num_features=32, num_convs=3, start="bicubic").eval()
    x = torch.rand(1, 3, 24, 20, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = net(x)[0].permute(1, 2, 0).double().numpy()
    ref = imresize(x[0].permute(1, 2, 0).double().numpy(), float(scale))
    border = 2 * scale  # zero padding of the 5x5 window reaches two input pixels
    inner = (slice(border, -border), slice(border, -border))
    np.testing.assert_allclose(out[inner], ref[inner], atol=1e-5)
    assert np.abs(out - ref).max() > 1e-3  # the border is where training has work to do


def test_bicubic_taps_are_keys_cubic_at_the_phase_offsets():
    taps = bicubic_taps(2)  # phases at -0.25 and +0.25 of an input pixel
    # Keys (a = -0.5) at distances 1.75, 0.75, 0.25, 1.25 for the first phase
    expected = np.array([-0.0234375, 0.2265625, 0.8671875, -0.0703125, 0.0])
    np.testing.assert_allclose(taps[0], expected / expected.sum(), atol=1e-12)
    np.testing.assert_allclose(taps[1], taps[0][::-1], atol=1e-12)
    np.testing.assert_allclose(bicubic_taps(4).sum(axis=1), 1.0)


def test_spandrel_runs_the_same_function():
    spandrel = pytest.importorskip("spandrel")
    net = Compact(3, 3, 4, num_features=32, num_convs=2, start="bicubic").eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    loaded = spandrel.ModelLoader().load_from_state_dict(net.state_dict())
    assert loaded.architecture.id == "Compact" and loaded.scale == 4
    x = torch.rand(1, 3, 16, 12)
    with torch.no_grad():
        assert torch.allclose(loaded.model.eval()(x), net(x), atol=1e-6)


@pytest.mark.parametrize("options", [{"scale": 5}, {"num_features": 0}, {"start": "zeros"},
                                     {"num_features": 16, "start": "bicubic"}])
def test_bad_options_are_refused(options):
    with pytest.raises(ValueError):
        Compact(**options)


def test_loading_a_shipped_model_does_not_import_spandrel():
    """spandrel (with torchvision, sympy, triton) costs ~185 MB resident per process; restora's
    own files never need it, which keeps a 100 MP photo's restore under 2 GB."""
    import subprocess
    import sys

    code = ("import sys; from restora.models import load_model; from restora.weights import "
            "find_card; [load_model(find_card(n).path) for n in ('denoise_color', 'upscale_x4')]; "
            "print(sorted(m for m in ('spandrel', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
