"""run_batch and ``restora batch``: failures, reruns, parameter changes, dry runs, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from restora.batch import manifest_path, read_manifest, run_batch
from restora.cli import main
from restora.errors import (
    ImageReadError,
    ImageWriteError,
    InvalidParameterError,
    UnknownMethodError,
)
from tests.batch.batch_data import OPTIONS, make_bad_files, make_images, tree_state

N_GOOD = 20


@pytest.fixture
def mixed(tmp_path):
    """20 good images, 5 unreadable ones, and 2 files that are not images by name."""
    src = tmp_path / "in"
    good = make_images(src, N_GOOD)
    bad = make_bad_files(src)
    Image.new("RGB", (4, 4)).save(src / "real.gif")
    (src / "notes.txt").write_text("not a photo")
    return src, good, bad


def test_bad_files_are_recorded_and_do_not_stop_the_batch(mixed, tmp_path, capsys):
    src, good, bad = mixed
    out = tmp_path / "out"
    before = tree_state(src)
    code = main(["batch", str(src), str(out), "--method", "nlm", "--sigma", "10", "--workers", "2"])
    assert code == 1
    err = capsys.readouterr().err
    assert "20 restored" in err and "5 failed" in err and "2 file(s) ignored" in err
    for name, reason in bad.items():
        assert f"failed {name}" in err
    assert tree_state(src) == before, "the input folder was modified"
    assert sorted(p.name for p in out.iterdir() if p.name != ".restora") == sorted(p.name for p in good)

    records = read_manifest(manifest_path(out))[1]
    started = [r for r in records if r.status == "started"]  # written before each image ran
    records = [r for r in records if r.status != "started"]
    assert len(records) == N_GOOD + len(bad) and {r.input for r in started} == {r.input for r in records}
    failed = {r.input: r for r in records if r.status == "failed"}
    assert set(failed) == set(bad)
    for name, reason in bad.items():
        assert name in failed[name].error and reason in failed[name].error, failed[name].error
        assert failed[name].size == (src / name).stat().st_size
    done = [r for r in records if r.status == "done"]
    import hashlib

    for r in done:
        assert r.sha256 == hashlib.sha256((src / r.input).read_bytes()).hexdigest()
        assert r.params == {"method": "nlm", "sigma": 10.0}
        assert r.error is None and r.seconds >= 0 and r.version
        with Image.open(out / r.output) as im:
            assert im.size == (32, 32)


def test_rerun_skips_changed_sigma_redoes_retry_failed_retries(mixed, tmp_path):
    src, good, bad = mixed
    out = tmp_path / "out"
    # One failure that a rerun can fix: its output path is blocked by a folder.
    (out / good[0].name).mkdir(parents=True)
    first = run_batch(src, out, OPTIONS, workers=2)
    assert (first.done, first.failed, first.skipped) == (N_GOOD - 1, len(bad) + 1, 0)
    assert any("is a directory" in m for _, m in first.failures)

    state = tree_state(out)
    again = run_batch(src, out, dict(OPTIONS), workers=2)
    assert (again.done, again.failed, again.skipped, again.failed_before) == (0, 0, N_GOOD - 1, len(bad) + 1)
    assert again.exit_code == 1
    assert tree_state(out) == state, "a rerun touched the output folder"

    (out / good[0].name).rmdir()
    retried = run_batch(src, out, OPTIONS, workers=2, retry_failed=True)
    assert (retried.done, retried.failed, retried.skipped) == (1, len(bad), N_GOOD - 1)
    assert (out / good[0].name).is_file()

    changed = run_batch(src, out, {**OPTIONS, "sigma": 25.0}, workers=2)
    assert (changed.done, changed.failed, changed.skipped) == (N_GOOD, len(bad), 0)
    stronger = np.asarray(Image.open(out / good[1].name), dtype=np.float64)
    noisy = np.asarray(Image.open(good[1]), dtype=np.float64)
    assert np.abs(np.diff(stronger, axis=1)).mean() < np.abs(np.diff(noisy, axis=1)).mean()
    latest, _ = read_manifest(manifest_path(out))
    assert latest[good[1].name].params["sigma"] == 25.0


def test_changed_input_and_missing_output_are_redone(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    paths = make_images(src, 3)
    run_batch(src, out, OPTIONS, workers=1)
    make_images(src, 1, seed=9)  # img000.png gets new content
    (out / "img002.png").unlink()
    plan = run_batch(src, out, OPTIONS, workers=1, dry_run=True).plan
    assert plan == [
        ("img000.png", "redo", "the input changed since it was restored"),
        ("img001.png", "skip", "already restored with these parameters"),
        ("img002.png", "redo", "the output is missing"),
    ]
    summary = run_batch(src, out, OPTIONS, workers=1)
    assert (summary.done, summary.skipped) == (2, 1)
    assert len(paths) == 3


def test_dry_run_writes_nothing(mixed, tmp_path, capsys):
    src, good, bad = mixed
    out = tmp_path / "out"
    code = main(["batch", str(src), str(out), "--sigma", "10", "--method", "nlm", "--dry-run"])
    assert code == 0
    assert not out.exists()
    text = capsys.readouterr().out
    assert "dry run, nothing written: 25 new" in text
    assert "new           img000.png" in text

    run_batch(src, out, OPTIONS, workers=2)
    state = tree_state(out)
    summary = run_batch(src, out, OPTIONS, retry_failed=True, dry_run=True)
    assert tree_state(out) == state
    actions = {rel: action for rel, action, _ in summary.plan}
    assert {actions[name] for name in bad} == {"retry"}
    assert {actions[p.name] for p in good} == {"skip"}


def test_recursive_pattern_suffix_and_format_mirror_the_tree(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_images(src, 2, prefix="top")
    make_images(src / "trip" / "day1", 2, prefix="beach")
    make_images(src / ".hidden", 1)
    flat = run_batch(src, out / "flat", OPTIONS, workers=1, dry_run=True)
    assert [rel for rel, _, _ in flat.plan] == ["top000.png", "top001.png"]
    summary = run_batch(src, out / "deep", {**OPTIONS, "format": "tiff16", "suffix": "_restored"},
                        workers=1, recursive=True, pattern="beach*")
    assert summary.done == 2 and summary.ignored == ["top000.png", "top001.png"]
    for i in range(2):
        target = out / "deep" / "trip" / "day1" / f"beach{i:03d}_restored.tif"
        from restora.io import read_image

        assert read_image(target).bit_depth == 16


def test_output_inside_input_is_not_walked(tmp_path):
    src = tmp_path / "in"
    make_images(src, 2)
    first = run_batch(src, src / "restored", OPTIONS, workers=1, recursive=True)
    again = run_batch(src, src / "restored", OPTIONS, workers=1, recursive=True)
    assert (first.done, again.done, again.skipped, again.total) == (2, 0, 2, 2)


# --- user errors: one clear message, nothing written ----------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"request": {"sigmaa": 3}}, "unknown option(s) sigmaa"),
        ({"request": {"progress": None}}, "unknown option(s) progress"),
        ({"engine": "spark"}, "engine must be one of local, ray; got 'spark'"),
        ({"workers": 0}, "workers must be an integer >= 1; got 0"),
        ({"request": {"format": "gif"}}, "format must be one of same, png, jpg, tiff, tiff16, webp; got 'gif'"),
        ({"request": {"suffix": "a/b"}}, "cannot contain '/'"),
        ({"address": "auto"}, "address applies to the Ray engine only"),
        ({"request": {"format": "tiff16", "bit_depth": 8}}, "format 'tiff16' writes 16-bit files"),
        ({"request": {"task": "upscale", "method": "nlm"}}, "does denoise, not 'upscale'"),
    ],
)
def test_bad_arguments_raise_before_any_work(tmp_path, kwargs, message):
    src, out = tmp_path / "in", tmp_path / "out"
    make_images(src, 1)
    args = {"request": OPTIONS, **kwargs}
    with pytest.raises(InvalidParameterError) as info:
        run_batch(src, out, **args)
    assert message in str(info.value)
    assert not out.exists()


def test_folder_errors(tmp_path, capsys):
    with pytest.raises(ImageReadError, match="is not a folder; give the folder of photos"):
        run_batch(tmp_path / "nope", tmp_path / "out", OPTIONS)
    src = tmp_path / "in"
    make_images(src, 1)
    with pytest.raises(InvalidParameterError, match="the outputs would replace the originals"):
        run_batch(src, src, OPTIONS)
    assert run_batch(src, src, {**OPTIONS, "suffix": "_r"}, workers=1).done == 1
    again = run_batch(src, src, {**OPTIONS, "suffix": "_r"}, workers=1)  # outputs not inputs
    assert (again.total, again.skipped, again.done) == (1, 1, 0)
    assert sorted(p.name for p in src.iterdir()) == [".restora", "img000.png", "img000_r.png"]
    (src / "img000.jpg").write_bytes((src / "img000.png").read_bytes())
    with pytest.raises(InvalidParameterError, match="img000.jpg and img000.png would both be written"):
        run_batch(src, tmp_path / "o2", {**OPTIONS, "format": "png"})
    assert main(["batch", str(tmp_path / "nope"), str(tmp_path / "o3")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_unknown_method_stops_the_batch_with_the_registry_message(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_images(src, 2)
    with pytest.raises(UnknownMethodError, match="no method named 'nosuch'"):
        run_batch(src, out, {"method": "nosuch"}, workers=1)
    assert read_manifest(manifest_path(out))[1] == []


def test_a_second_batch_on_the_same_folder_is_refused(tmp_path):
    from restora.batch.manifest import ManifestWriter

    src, out = tmp_path / "in", tmp_path / "out"
    make_images(src, 1)
    with ManifestWriter(out), pytest.raises(ImageWriteError, match="another `restora batch`"):
        run_batch(src, out, OPTIONS, workers=1)
    assert run_batch(src, out, OPTIONS, workers=1).done == 1


def test_explicit_defaults_hash_like_omitted_ones():
    from restora.options import Request

    explicit = Request.from_mapping({"method": "nlm", "sigma": 10.0, "tile": "auto", "overlap": 32,
                                     "threads": 3, "device": "cpu", "format": "same",
                                     "suffix": ""}).fingerprint()
    assert explicit == Request.from_mapping(OPTIONS).fingerprint()
    assert explicit == {"method": "nlm", "sigma": 10.0}  # execution never changes the output
    assert Request.from_mapping({**OPTIONS, "format": "png"}).fingerprint() != explicit


def test_torn_manifest_line_is_ignored_and_cut(tmp_path):
    from restora.batch.manifest import ManifestWriter, Record

    record = Record(input="a.png", size=1, sha256="x", params_hash="p", params={}, status="done",
                    output="a.png", seconds=0.1, error=None, version="0", finished="t")
    path = manifest_path(tmp_path)
    with ManifestWriter(tmp_path) as writer:
        writer.append(record)
    with open(path, "ab") as fh:
        fh.write(b'{"input": "b.png", "sta')
    latest, records = read_manifest(path)
    assert list(latest) == ["a.png"] and records == [record]
    with ManifestWriter(tmp_path) as writer:
        writer.append(Record(**{**record.__dict__, "input": "c.png"}))
    assert [r.input for r in read_manifest(path)[1]] == ["a.png", "c.png"]
    assert path.read_bytes().count(b"\n") == 2


def test_files_it_did_not_write_and_links_out_of_the_folder_are_left_alone(tmp_path):
    """Outputs: a file the batch did not write is replaced only with --overwrite; a
    sub-folder of OUT that links elsewhere is never written through."""
    src, out = tmp_path / "in", tmp_path / "out"
    make_images(src / "sub", 1, prefix="a")
    make_images(src, 1, prefix="b")
    foreign = out / "b000.png"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"someone else's file")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere, target_is_directory=True)
    summary = run_batch(src, out, OPTIONS, workers=1, recursive=True)
    assert (summary.done, summary.failed) == (0, 2)
    reasons = dict(summary.failures)
    assert "not written by restora batch; pass --overwrite" in reasons["b000.png"]
    assert "outside" in reasons["sub/a000.png"] and list(elsewhere.iterdir()) == []
    assert foreign.read_bytes() == b"someone else's file"
    again = run_batch(src, out, {**OPTIONS, "overwrite": True}, workers=1, recursive=True,
                      retry_failed=True)
    assert again.done == 1 and Image.open(foreign).size == (32, 32)
    assert list(elsewhere.iterdir()) == []


def test_an_image_in_flight_when_the_batch_was_killed_is_counted_and_redone(tmp_path):
    from restora.batch.manifest import ManifestWriter

    src, out = tmp_path / "in", tmp_path / "out"
    make_images(src, 2)
    first = run_batch(src, out, OPTIONS, workers=1)
    assert first.done == 2
    latest, _ = read_manifest(manifest_path(out))
    with ManifestWriter(out) as writer:  # as a kill after "started", before "done", leaves it
        writer.append(dataclasses.replace(latest["img001.png"], status="started", error=None))
    again = run_batch(src, out, OPTIONS, workers=1)
    assert (again.done, again.skipped, again.interrupted) == (1, 1, 1)
