"""scripts/device_session.py without a device: staging several recipes (the union of their
training folders, within the size that travels) and the run's argument checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def session(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("device_session", REPO / "scripts" / "device_session.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shared = tmp_path / "shared"
    for folder, files in (("a", 3), ("b", 2), ("val20", 2), ("val_other", 1)):
        (shared / folder).mkdir(parents=True)
        for i in range(files):
            (shared / folder / f"{folder}_{i}.png").write_bytes(b"x" * (100 + i))
    recipes = tmp_path / "configs"
    recipes.mkdir()
    for name, train, val in (("one", '["s/a"]', "s/val20"), ("two", '["s/b", "s/a"]', "s/val20"),
                             ("other", '["s/b"]', "s/val_other")):
        (recipes / f"{name}.toml").write_text(f'[data]\ntrain = {train}\nval = "{val}"\n')
    monkeypatch.setattr(module, "REPO", tmp_path)
    monkeypatch.setattr(module, "SHARED", shared)
    monkeypatch.setattr(module, "STAGED", tmp_path / "device_data")
    monkeypatch.setattr(module, "_tracked_bytes", lambda: 1000)
    return module


def staged(session) -> dict[str, list[str]]:
    return {d.name: sorted(f.name for f in d.iterdir()) for d in sorted(session.STAGED.iterdir())}


def test_several_recipes_stage_the_union_of_their_folders(session, capsys):
    assert session.stage(["configs/one.toml", "configs/two.toml"]) == 0
    assert staged(session) == {"a": ["a_0.png", "a_1.png", "a_2.png"], "b": ["b_0.png", "b_1.png"],
                               "val20": ["val20_0.png", "val20_1.png"]}
    assert "5 training photos (a, b) + 2 validation photos (val20)" in capsys.readouterr().out


def test_what_does_not_fit_is_left_out_with_a_warning(session, capsys):
    # room for one validation photo (100 B) and the first two training photos (201 B)
    session.TRAVEL_LIMIT = 1000 + 100 + 201 + 50
    assert session.stage("configs/two.toml", margin=50) == 0
    assert staged(session) == {"b": ["b_0.png", "b_1.png"], "val20": ["val20_0.png"]}
    assert "only 2 of 5 training photos fit" in capsys.readouterr().err


def test_recipes_that_validate_on_different_folders_are_refused(session, capsys):
    assert session.stage(["configs/one.toml", "configs/other.toml"]) == 1
    assert "validate on different folders (val20, val_other)" in capsys.readouterr().err
    assert not session.STAGED.exists()


def test_run_wants_one_init_per_recipe_before_any_device_work(session, capsys):
    code = session.main(["run", "--recipe", "configs/one.toml", "--recipe", "configs/two.toml",
                         "--init", "none", "--out", str(session.REPO / "out")])
    assert code == 2
    assert "2 recipes and 1 --init" in capsys.readouterr().err
    assert not (session.REPO / "out").exists()  # nothing benchmarked or written
