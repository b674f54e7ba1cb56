"""--compile: torch.compile of the network where torch runs it; same result, same runner."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import restora
from restora.archs import DnCNN
from restora.errors import InvalidParameterError
from restora.models import load_model
from restora.models.inference import InferenceRunner
from restora.options import Execution


def test_compiled_network_gives_the_uncompiled_result(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "small_dncnn.pth"
    torch.save(DnCNN(3, 3, 16, 4).state_dict(), path)
    model = load_model(path)
    image = np.random.default_rng(0).random((40, 56, 3), dtype=np.float32)
    plain = InferenceRunner(model, device="cpu", precision="fp32", backend="torch")(image)
    runner = InferenceRunner(model, device="cpu", precision="fp32", backend="torch", compile=True)
    got = runner(image)
    assert runner._compiled is not None
    assert isinstance(runner._compiled.model, torch._dynamo.eval_frame.OptimizedModule)
    assert runner.model.model is not runner._compiled.model  # the caller's network untouched
    np.testing.assert_allclose(got, plain, rtol=0, atol=1e-5)
    assert np.abs(got - image).mean() > 1e-3  # the network did something
    # the same through the options, as every entry point passes them
    through_api = restora.restore(image, model=str(path), task="denoise", compile=True,
                                  backend="torch", precision="fp32", tile=0)
    np.testing.assert_allclose(through_api, plain, rtol=0, atol=1e-5)


def test_compile_is_a_checked_flag():
    with pytest.raises(InvalidParameterError, match="compile"):
        Execution(compile="yes")
    assert Execution(compile=True).compile is True
