"""Networks on a GPU keep their tiles there (stream_tiled(..., device=...)), through every entry
point's runner; the decision, and the same results as the numpy engine (shipped weights).

No GPU here: the device path is forced on the CPU (torch tensors on "cpu"), where it must
write the same bytes as the numpy engine for gray, colour, RGBA, 16-bit and JPEG inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

import restora
import restora.run
from restora.batch import core as batch_core
from restora.io import write_image
from restora.models.inference import InferenceRunner
from restora.options import Choice, Execution
from restora.run import Restorer


@pytest.fixture
def forced(monkeypatch):
    """Run networks through the device engine on the CPU; count its calls."""
    calls = []
    engine = restora.run.stream_tiled

    def counting(*args, **kwargs):
        if kwargs.get("device") is not None:
            calls.append(kwargs["device"])
        return engine(*args, **kwargs)

    def force(on: bool) -> None:
        monkeypatch.setattr(InferenceRunner, "tiles_on_device",
                            property(lambda self: on))

    monkeypatch.setattr(restora.run, "stream_tiled", counting)
    return force, calls


COLOUR = data.astronaut()[100:301, 150:389]  # 201 x 239, odd sizes: padding at the edges


@pytest.mark.parametrize(("image", "options"), [
    (COLOUR, {"task": "denoise", "sigma": 15, "tile": 136}),
    (data.camera()[:157, :230], {"task": "denoise", "sigma": 15, "tile": 136}),
    ((COLOUR.astype(np.uint16) * 257), {"task": "denoise", "sigma": 10}),
    (COLOUR[:60, :70], {"task": "upscale", "scale": 4, "tile": 200, "overlap": 16}),
], ids=["colour", "gray", "16-bit", "x4"])
def test_arrays_give_the_numpy_engine_result(forced, image, options):
    force, calls = forced
    force(False)
    want = restora.restore(image, precision="fp32", **options)
    assert calls == []
    force(True)
    got = restora.restore(image, precision="fp32", **options)
    assert calls == ["cpu"]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", ["rgba.png", "photo.jpg"])
@pytest.mark.parametrize("task", ["denoise", "auto"])
def test_files_give_the_numpy_engine_result(tmp_path, forced, kind, task):
    force, calls = forced
    source = tmp_path / kind
    noisy = np.clip(COLOUR + np.random.default_rng(0).normal(0, 12, COLOUR.shape), 0, 255)
    noisy = noisy.round().astype(np.uint8)  # noisy enough for the automatic mode to denoise
    if kind.endswith(".png"):
        alpha = np.linspace(0, 255, COLOUR.shape[1]).astype(np.uint8)[None].repeat(COLOUR.shape[0], 0)
        Image.fromarray(np.dstack([noisy, alpha])).save(source)
    else:
        Image.fromarray(noisy).save(source, quality=90)
    outputs = []
    for on in (False, True):
        force(on)
        target = tmp_path / f"{on}-{kind}"
        restora.restore_file(source, target, task=task, precision="fp32")
        outputs.append(np.asarray(Image.open(target)))
    assert calls  # the device engine ran (automatic mode: at least its network step)
    np.testing.assert_array_equal(outputs[1], outputs[0])


def test_the_decision():
    from restora.models import load_model
    from restora.weights import find_card

    card = find_card("denoise_color")
    assert card is not None
    runner = InferenceRunner(load_model(card.path), device="cpu")
    assert not runner.tiles_on_device  # the CPU keeps the numpy engine
    runner.device = "cuda"  # as resolve_device gives on a GPU machine
    assert runner.tiles_on_device


def test_colour_through_a_gray_network_luma_on_the_device(forced):
    """JPEG deblocking of a colour photo (deblock_gray on its JFIF luma) through the device
    engine: the luma is computed and put back on the device, within a grey level of the
    array path (float64 sums in another order), all but a few pixels equal."""
    force, calls = forced
    photo = COLOUR.copy()
    outputs = []
    for on in (False, True):
        force(on)
        outputs.append(restora.restore(photo, task="deblock", quality=20, tile=136,
                                       precision="fp32").astype(int))
    assert calls == ["cpu"]
    diff = np.abs(outputs[1] - outputs[0])
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    assert np.abs(outputs[0] - photo).mean() > 0.5  # deblocking changed the photo


def test_batch_runs_two_workers_per_gpu(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(COLOUR[:40, :40], folder / "a.png")
    assert Restorer(Choice(method="nlm"), Execution(device="cuda")).gpu() is None  # no network
    assert Restorer(Choice(), Execution(device="cpu")).gpu() is None
    monkeypatch.setattr(Restorer, "gpu", lambda self: "cuda")
    summary = batch_core.run_batch(folder, tmp_path / "out", dry_run=True)
    assert summary.workers == batch_core.GPU_WORKERS == 2
    monkeypatch.setattr(Restorer, "gpu", lambda self: None)
    summary = batch_core.run_batch(folder, tmp_path / "out", dry_run=True)
    assert summary.workers == batch_core._cpu_count()
    assert batch_core.run_batch(folder, tmp_path / "out", {"method": "nlm"}, workers=3,
                                dry_run=True).workers == 3
