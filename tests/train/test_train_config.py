"""Recipe loading: strict keys and types, clear messages, TOML and YAML give the same config."""

from __future__ import annotations

import pytest

from restora.errors import InvalidParameterError
from restora.train.config import (
    DataConfig,
    DegradationConfig,
    OptimConfig,
    TrainConfig,
    config_from_dict,
    load_config,
)

GOOD = """
output = "runs/x"
steps = 100
seed = 3
[data]
train = ["a", "b"]
channels = 1
patch_size = 32
[degradation]
kind = "gaussian"
sigma_max = 50
[model]
arch = "ffdnet"
options = { num_features = 16, depth = 4 }
[optim]
lr = 1
betas = [0.9, 0.99]
"""


def _write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_toml_loads_with_defaults_and_int_to_float(tmp_path):
    cfg = load_config(_write(tmp_path, GOOD))
    assert isinstance(cfg, TrainConfig)
    assert cfg.steps == 100 and cfg.seed == 3 and cfg.output == "runs/x"
    assert cfg.data == DataConfig(train=["a", "b"], channels=1, patch_size=32)
    assert cfg.degradation == DegradationConfig(kind="gaussian", sigma_max=50.0)
    assert cfg.model.options == {"num_features": 16, "depth": 4}
    assert cfg.optim == OptimConfig(lr=1.0, betas=[0.9, 0.99])
    assert isinstance(cfg.optim.lr, float) and isinstance(cfg.degradation.sigma_max, float)
    with pytest.raises(AttributeError):  # frozen
        cfg.steps = 5  # type: ignore[misc]


def test_unknown_key_in_section_names_key_section_and_file(tmp_path):
    path = _write(tmp_path, GOOD.replace("lr = 1", "lr = 1\nlrr = 2"))
    with pytest.raises(InvalidParameterError) as err:
        load_config(path)
    msg = str(err.value)
    assert "unknown key 'lrr'" in msg and "[optim]" in msg and str(path) in msg
    assert "known keys: lr, min_lr" in msg


def test_unknown_top_level_key_and_misspelt_section(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"unknown key 'stepz' in the top level"):
        load_config(_write(tmp_path, "stepz = 3\n" + GOOD))
    with pytest.raises(InvalidParameterError, match=r"unknown key 'dta' in the top level"):
        load_config(_write(tmp_path, GOOD + "\n[dta]\nx = 1\n"))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("steps = 100", 'steps = "ten"', r"key 'steps' in the top level must be int, got str 'ten'"),
        ("steps = 100", "steps = 1.5", r"key 'steps' in the top level must be int, got float 1.5"),
        ("channels = 1", "channels = true", r"key 'channels' in section \[data\] must be int, got bool"),
        ('train = ["a", "b"]', 'train = "a"', r"key 'train' in section \[data\] must be list\[str\]"),
        ("sigma_max = 50", 'sigma_max = "50"', r"key 'sigma_max' in section \[degradation\] must be float"),
        ("betas = [0.9, 0.99]", 'betas = ["a", 0.99]', r"key 'betas' in section \[optim\] must be list\[float\]"),
    ],
)
def test_wrong_types_are_refused(tmp_path, old, new, expected):
    assert old in GOOD
    with pytest.raises(InvalidParameterError, match=expected):
        load_config(_write(tmp_path, GOOD.replace(old, new)))


def test_section_must_be_a_table():
    with pytest.raises(InvalidParameterError, match=r"section \[data\] must be a table of keys, got int"):
        config_from_dict({"data": 3}, source="x.toml")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"degradation": {"kind": "blurry"}}, r"\[degradation\] 'kind' must be one of"),
        ({"degradation": {"quality_min": 50, "quality_max": 101}}, r"1 <= quality_min <= quality_max <= 100"),
        ({"degradation": {"sigma_min": 30, "sigma_max": 20}}, r"0 <= sigma_min <= sigma_max"),
        ({"data": {"train": ["a"], "channels": 2}}, r"\[data\] 'channels' must be 1 or 3, got 2"),
        ({"data": {"train": []}}, r"\[data\] 'train' must list at least one folder"),
        ({"data": {"train": ["a"], "colour_jitter": 1.5}}, r"\[data\] 'colour_jitter' must be in \[0, 1\]"),
        ({"model": {"arch": "unet"}}, r"\[model\] 'arch' must be one of"),
        ({"optim": {"loss": "ssim"}}, r"\[optim\] 'loss' must be one of"),
        ({"optim": {"betas": [0.9]}}, r"'betas' must be two floats"),
        ({"steps": 0}, r"'steps' must be >= 1"),
        ({"device": "tpu"}, r"'device' must be one of"),
    ],
)
def test_out_of_range_values_are_refused(values, expected):
    values = {"data": {"train": ["a"]}, **values}
    if "data" in values and "train" not in values["data"]:
        values["data"]["train"] = ["a"]
    with pytest.raises(InvalidParameterError, match=expected):
        config_from_dict(values, source="r.toml")


def test_yaml_gives_the_same_config(tmp_path):
    pytest.importorskip("yaml")
    yaml_text = """
output: runs/x
steps: 100
seed: 3
data: {train: [a, b], channels: 1, patch_size: 32}
degradation: {kind: gaussian, sigma_max: 50}
model: {arch: ffdnet, options: {num_features: 16, depth: 4}}
optim: {lr: 1, betas: [0.9, 0.99]}
"""
    assert load_config(_write(tmp_path, yaml_text, "c.yaml")) == load_config(_write(tmp_path, GOOD))


def test_bad_files(tmp_path):
    with pytest.raises(InvalidParameterError, match="no such config file"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(InvalidParameterError, match="not valid TOML"):
        load_config(_write(tmp_path, "steps = = 3"))
    with pytest.raises(InvalidParameterError, match=r"must end in \.toml, \.yaml or \.yml"):
        load_config(_write(tmp_path, GOOD, "c.ini"))


def test_shipped_recipes_load():
    from pathlib import Path

    configs = Path(__file__).resolve().parents[2] / "configs"
    files = sorted(configs.glob("*.toml"))
    assert files, "configs/*.toml missing"
    for f in files:
        cfg = load_config(f)
        assert cfg.data.train


def test_config_and_command_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, restora.train, restora.train.config, restora.train.command; "
        "restora.train.TrainConfig; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
