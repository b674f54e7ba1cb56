"""The trainer on tiny data: loss falls, resume is exact, export loads, CLI and errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from restora.errors import InvalidParameterError, OutputExistsError
from restora.train.config import config_from_dict
from restora.train.trainer import lr_factor, train


@pytest.fixture(autouse=True)
def _two_threads():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread avoids contention
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """8 smooth random 48x48 gray training images and 2 validation images."""
    from restora.io import write_image

    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:48] / 48.0
    for sub, n in (("train", 8), ("val", 2)):
        (root / sub).mkdir()
        for i in range(n):
            f = rng.uniform(0.5, 2.0, 4)
            img = 0.5 + 0.2 * np.sin(2 * np.pi * (f[0] * xx + f[1] * yy)) + 0.2 * np.cos(2 * np.pi * (f[2] * xx - f[3] * yy))
            write_image(np.round(img * 255).astype(np.uint8), root / sub / f"{i}.png")
    return root


def _config(folders, out, **top):
    values = {
        "output": str(out), "steps": 10, "seed": 0, "device": "cpu", "log_every": 1,
        "data": {"train": [str(folders / "train")], "val": str(folders / "val"), "patch_size": 24, "batch_size": 4},
        "degradation": {"kind": "gaussian", "sigma_min": 0.0, "sigma_max": 50.0, "val_sigma": 25.0},
        "model": {"arch": "ffdnet", "options": {"num_features": 8, "depth": 2}},
        "optim": {"lr": 1e-2, "warmup_steps": 2, "ema_decay": 0.9, "grad_clip": 1.0},
    }
    for key, value in top.items():
        if isinstance(value, dict):
            values[key] = {**values.get(key, {}), **value}
        else:
            values[key] = value
    return config_from_dict(values, source="test")


def test_lr_schedule_warmup_then_cosine():
    kw = {"steps": 110, "warmup": 10, "min_ratio": 0.01}
    assert [lr_factor(s, **kw) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert lr_factor(10, **kw) == pytest.approx(1.0)
    assert lr_factor(60, **kw) == pytest.approx(0.01 + 0.99 * 0.5)
    assert lr_factor(110, **kw) == pytest.approx(0.01)


def test_loss_decreases_on_a_learnable_task(folders, tmp_path):
    cfg = _config(folders, tmp_path / "run", steps=30, val_every=0,
                  degradation={"sigma_min": 25.0, "sigma_max": 25.0},
                  model={"arch": "dncnn", "options": {"num_features": 16, "depth": 3}},
                  optim={"lr": 5e-3, "loss": "l2"}, data={"batch_size": 6})
    result = train(cfg, progress=False)
    losses = [r["loss"] for r in result.history if "loss" in r]
    assert len(losses) == 30
    noise_mse = (25 / 255) ** 2  # doing nothing (identity) costs the noise variance
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:5])
    assert np.mean(losses[-10:]) < 0.8 * noise_mse
    # validation: uint8-quantised PSNR beats the noisy input's ~20.2 dB at sigma 25
    assert result.val_psnr is not None and result.val_psnr > 22.0
    assert result.finished and result.steps == 30


def test_resume_matches_an_uninterrupted_run(folders, tmp_path):
    from safetensors.torch import load_file

    straight = train(_config(folders, tmp_path / "a", checkpoint_every=3), progress=False)
    first = train(_config(folders, tmp_path / "b", checkpoint_every=3), max_steps=5, progress=False)
    assert first.steps == 5 and not first.finished
    mid = load_file(str(tmp_path / "b" / "checkpoint.safetensors"))
    second = train(_config(folders, tmp_path / "b", checkpoint_every=3), resume=True, progress=False)
    assert second.steps == 10 and second.finished
    a = load_file(str(tmp_path / "a" / "checkpoint.safetensors"))
    b = load_file(str(tmp_path / "b" / "checkpoint.safetensors"))
    assert a.keys() == b.keys() and any(k.startswith("ema.") for k in a)
    for k in a:
        np.testing.assert_allclose(b[k].numpy(), a[k].numpy(), atol=1e-6, err_msg=k)
    loss_a = [r["loss"] for r in straight.history if "loss" in r]
    loss_b = [r["loss"] for r in first.history + second.history if "loss" in r]
    np.testing.assert_allclose(loss_b, loss_a, rtol=1e-6)
    # the log of the resumed run holds every step once
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == list(range(1, 11))
    # the weights at step 5 differ from those at step 10: the comparison above can fail
    assert max(float((mid[k] - a[k]).abs().max()) for k in a) > 1e-4


def test_time_limit_stops_checkpointed_and_resumes_to_the_same_weights(folders, tmp_path):
    from safetensors.torch import load_file

    straight = train(_config(folders, tmp_path / "a", checkpoint_every=100), progress=False)
    # a limit that the first step already passes: one step, validated, checkpointed, exported
    first = train(_config(folders, tmp_path / "b", checkpoint_every=100), time_limit=1e-9, progress=False)
    assert first.steps == 1 and not first.finished and first.val_psnr is not None
    assert (tmp_path / "b" / "model.safetensors").is_file()
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 1]  # the loss and the validation of step 1
    second = train(_config(folders, tmp_path / "b", checkpoint_every=100), resume=True, progress=False)
    assert second.steps == 10 and second.finished
    a = load_file(str(tmp_path / "a" / "checkpoint.safetensors"))
    b = load_file(str(tmp_path / "b" / "checkpoint.safetensors"))
    for k in a:
        np.testing.assert_allclose(b[k].numpy(), a[k].numpy(), atol=1e-6, err_msg=k)
    assert straight.finished
    with pytest.raises(InvalidParameterError, match="time_limit must be > 0"):
        train(_config(folders, tmp_path / "t"), time_limit=0, progress=False)


def test_workers_make_the_same_batches_and_weights(folders, tmp_path):
    from safetensors.torch import load_file

    here = train(_config(folders, tmp_path / "a", steps=6), progress=False)
    ahead = train(_config(folders, tmp_path / "b", steps=6, workers=2), progress=False)
    assert [r["loss"] for r in ahead.history if "loss" in r] == [r["loss"] for r in here.history if "loss" in r]
    a = load_file(str(tmp_path / "a" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(torch_equal(a[k], b[k]) for k in a)
    # a time stop with batches still queued shuts the pool down cleanly
    early = train(_config(folders, tmp_path / "c", steps=6, workers=2), time_limit=1e-9, progress=False)
    assert early.steps == 1
    with pytest.raises(InvalidParameterError, match="'workers' must be in 0..64"):
        _config(folders, tmp_path / "d", workers=-1)


def torch_equal(x, y) -> bool:
    import torch

    return bool(torch.equal(x, y))


def test_resume_accepts_a_checkpoint_from_before_a_key_existed(folders, tmp_path):
    import torch

    cfg = _config(folders, tmp_path / "r", checkpoint_every=2)
    train(cfg, max_steps=2, progress=False)
    state_path = tmp_path / "r" / "checkpoint_state.pt"
    state = torch.load(state_path, weights_only=True)
    saved = json.loads(state["config"])
    del saved["degradation"]["pair_fraction"], saved["workers"]  # as written before they existed
    state["config"] = json.dumps(saved)
    torch.save(state, state_path)
    assert train(cfg, resume=True, progress=False).finished
    # a key that changes the maths still has to match
    state["config"] = json.dumps({**saved, "degradation": {**saved["degradation"], "pair_fraction": 0.5}})
    torch.save(state, state_path)
    with pytest.raises(InvalidParameterError, match="differs from the checkpoint's in degradation"):
        train(cfg, resume=True, progress=False)


def test_state_file_loads_with_weights_only(folders, tmp_path):
    import torch

    train(_config(folders, tmp_path / "r", steps=2), progress=False)
    state = torch.load(tmp_path / "r" / "checkpoint_state.pt", weights_only=True)
    assert state["step"] == 2 and set(state) >= {"optimizer", "scheduler", "torch_rng", "config"}
    assert state["scheduler"]["last_epoch"] == 2


def test_exported_model_loads_and_runs(folders, tmp_path):
    import torch
    from safetensors.torch import load_file

    from restora.models import load_model

    result = train(_config(folders, tmp_path / "e", steps=3), progress=False)
    desc = load_model(result.model_path)
    assert desc.arch == "ffdnet" and desc.needs_sigma and desc.task == "denoise"
    assert desc.config == {"in_channels": 1, "num_features": 8, "depth": 2}
    ema = {k[4:]: v for k, v in load_file(str(tmp_path / "e" / "checkpoint.safetensors")).items() if k.startswith("ema.")}
    for k, v in desc.model.state_dict().items():
        assert torch.equal(v, ema[k]), k
    noisy = np.random.default_rng(0).uniform(0, 1, (20, 22)).astype(np.float32)
    out = desc(noisy, sigma=25)
    assert out.shape == (20, 22) and 0 <= out.min() and out.max() <= 1
    with torch.no_grad():
        direct = desc.model(torch.from_numpy(noisy)[None, None], 25 / 255)[0, 0].clamp(0, 1).numpy()
    np.testing.assert_allclose(out, direct, atol=1e-6)
    # plot and log exist
    from PIL import Image

    with Image.open(tmp_path / "e" / "plot.png") as im:
        assert im.size == (960, 300)
    assert (tmp_path / "e" / "log.jsonl").read_text().count('"val_psnr"') == 1


def test_refuses_to_overwrite_and_bad_resumes(folders, tmp_path):
    cfg = _config(folders, tmp_path / "o", steps=2)
    train(cfg, progress=False)
    with pytest.raises(OutputExistsError, match="pass --resume to continue it"):
        train(cfg, progress=False)
    changed = replace(cfg, optim=replace(cfg.optim, lr=0.5))
    with pytest.raises(InvalidParameterError, match=r"config differs from the checkpoint's in optim"):
        train(changed, resume=True, progress=False)
    with pytest.raises(InvalidParameterError, match="nothing to resume"):
        train(_config(folders, tmp_path / "empty"), resume=True, progress=False)
    with pytest.raises(InvalidParameterError, match="max_steps must be >= 1"):
        train(_config(folders, tmp_path / "m"), max_steps=0, progress=False)


def test_model_channels_must_match_data(folders, tmp_path):
    cfg = _config(folders, tmp_path / "c", model={"options": {"in_channels": 3, "num_features": 8, "depth": 2}})
    with pytest.raises(InvalidParameterError, match=r"in_channels=3 but \[data\] channels=1"):
        train(cfg, progress=False)
    cfg = _config(folders, tmp_path / "d", model={"options": {"widthh": 3}})
    with pytest.raises(InvalidParameterError, match=r"\[model\] options .* do not fit ffdnet"):
        train(cfg, progress=False)


def test_cli_train_command(folders, tmp_path, capsys):
    from restora.cli import main

    path = tmp_path / "r.toml"
    path.write_text(
        f'output = "{tmp_path / "cli"}"\nsteps = 4\ndevice = "cpu"\n'
        f'[data]\ntrain = ["{folders / "train"}"]\npatch_size = 16\nbatch_size = 2\n'
        f'[model]\narch = "dncnn"\noptions = {{num_features = 4, depth = 2}}\n'
    )
    assert main(["train", str(path), "--max-steps", "2", "--no-progress"]) == 0
    assert "2 steps" in capsys.readouterr().err
    assert main(["train", str(path), "--resume", "--no-progress"]) == 0
    assert "4 steps (finished)" in capsys.readouterr().err
    from restora.models import load_model

    assert load_model(tmp_path / "cli" / "model.safetensors").arch == "dncnn"
    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text().replace("steps = 4", "steps = 4\nspeed = 1"))
    assert main(["train", str(bad)]) == 2
    err = capsys.readouterr()
    assert "unknown key 'speed' in the top level" in err.out + err.err


@pytest.mark.parametrize(
    ("arch", "options"),
    [
        ("dncnn", {"num_features": 4, "depth": 3, "batch_norm": True}),
        ("drunet", {"channels": [4, 4, 8, 8], "num_blocks": 1}),
        ("nafnet", {"width": 4, "middle_blocks": 1, "enc_blocks": [1, 1], "dec_blocks": [1, 1]}),
    ],
)
def test_every_arch_trains_and_exports(folders, tmp_path, arch, options):
    import torch

    from restora.models import load_model

    cfg = _config(folders, tmp_path / arch, steps=2, data={"patch_size": 16, "val": None},
                  model={"arch": arch, "options": options})
    result = train(cfg, progress=False)
    desc = load_model(result.model_path)
    assert desc.arch == arch and desc.in_channels == 1
    x = torch.rand(1, 1, 16, 16)
    sigma = 25.0 if desc.needs_sigma else None
    expected = desc.model(x, 25 / 255) if desc.needs_sigma else desc.model(x)
    torch.testing.assert_close(desc.run_tensor(x, sigma=sigma), expected)
    assert result.val_psnr is None
