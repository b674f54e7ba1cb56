"""Downloading zoo models: verified, atomic, retried, mirrored, offline, licensed, shared.

Every byte comes from a server on 127.0.0.1 (tests/zoo/zoo_server.py)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import warnings

import pytest

from restora import zoo
from restora.errors import IntegrityError, LicenceNotAcceptedError, ZooError, ZooWarning
from tests.zoo.zoo_server import entry_for

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def _use(*entries):
    zoo.use_registry({e.name: e for e in entries})


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith((".lock", ".json"))) if folder.exists() else []


def test_pull_verifies_and_places_the_file(server, cache):
    _use(entry_for("m", [server.serve("/m.pth", PAYLOAD)], PAYLOAD))
    path = zoo.pull("m")
    assert path == cache / "m.pth"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(PAYLOAD).hexdigest()
    assert _leftovers(cache) == ["m.pth"]  # no temporary file left beside it
    assert zoo.pull("m") == path and server.hits["/m.pth"] == 1  # second use: no download
    assert zoo.verify("m") == path


def test_a_dropped_connection_is_retried_cleanly(server, cache):
    _use(entry_for("m", [server.serve("/m.pth", PAYLOAD, "drop_once")], PAYLOAD))
    path = zoo.pull("m")
    assert path.read_bytes() == PAYLOAD
    assert server.hits["/m.pth"] == 2
    assert _leftovers(cache) == ["m.pth"]


def test_wrong_hash_is_an_error_naming_both_and_nothing_is_kept(server, cache):
    tampered = PAYLOAD[:-1] + b"\x00"
    entry = entry_for("m", [server.serve("/m.pth", tampered)], PAYLOAD)
    _use(entry)
    with pytest.raises(IntegrityError) as info:
        zoo.pull("m")
    message = str(info.value)
    assert entry.sha256 in message and hashlib.sha256(tampered).hexdigest() in message
    assert _leftovers(cache) == []


def test_wrong_size_is_an_error_and_nothing_is_kept(server, cache):
    _use(entry_for("m", [server.serve("/m.pth", PAYLOAD + b"extra")], PAYLOAD))
    with pytest.raises(IntegrityError, match=f"{len(PAYLOAD) + 5} bytes, expected {len(PAYLOAD)}"):
        zoo.pull("m")
    assert _leftovers(cache) == []


def test_404_falls_back_to_the_mirror(server, cache):
    urls = [server.base + "/gone.pth", server.serve("/mirror.pth", PAYLOAD)]
    _use(entry_for("m", urls, PAYLOAD))
    assert zoo.pull("m").read_bytes() == PAYLOAD
    assert server.hits["/gone.pth"] >= 1 and server.hits["/mirror.pth"] == 1


def test_every_url_failing_names_them(server, cache):
    _use(entry_for("m", [server.base + "/a.pth", server.base + "/b.pth"], PAYLOAD))
    with pytest.raises(ZooError, match="could not download from any of 2") as info:
        zoo.pull("m")
    assert "/a.pth" in str(info.value) and "/b.pth" in str(info.value)


def test_offline_never_touches_the_network(server, cache, monkeypatch):
    monkeypatch.setenv("RESTORA_OFFLINE", "1")
    entry = entry_for("m", [server.serve("/m.pth", PAYLOAD)], PAYLOAD)
    _use(entry)
    with pytest.raises(ZooError) as info:
        zoo.pull("m")
    message = str(info.value)
    assert str(cache / "m.pth") in message and "RESTORA_OFFLINE" in message and entry.sha256 in message
    assert server.hits["/m.pth"] == 0
    # A file the user put there by hand is used (after verification), still offline.
    cache.mkdir(parents=True)
    (cache / "m.pth").write_bytes(PAYLOAD)
    assert zoo.pull("m") == cache / "m.pth" and server.hits["/m.pth"] == 0


def test_non_commercial_needs_accept_licence(server, cache):
    _use(entry_for("nc", [server.serve("/nc.pth", PAYLOAD)], PAYLOAD, non_commercial=True,
                   licence="CC BY-NC-SA 4.0"))
    with pytest.raises(LicenceNotAcceptedError, match="CC BY-NC-SA 4.0.*--accept-licence"):
        zoo.pull("nc")
    assert server.hits["/nc.pth"] == 0
    assert zoo.pull("nc", accept_licence=True).read_bytes() == PAYLOAD
    assert zoo.preferred("denoise", 3) is None  # never a default


def test_unpinned_file_is_pinned_on_first_download(server, cache):
    url = server.serve("/u.pth", PAYLOAD)
    _use(entry_for("u", [url], PAYLOAD, sha256="", size=0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zoo.pull("u")
    assert any(issubclass(w.category, ZooWarning) and "pinned" in str(w.message) for w in caught)
    assert zoo.expected(zoo.get("u")) == (hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD))
    # The server now serves other bytes: a fresh download must match the recorded pin.
    (cache / "u.pth").unlink()
    server.serve("/u.pth", PAYLOAD[::-1])
    with pytest.raises(IntegrityError):
        zoo.pull("u")


def test_verify_and_rm(server, cache):
    _use(entry_for("m", [server.serve("/m.pth", PAYLOAD)], PAYLOAD))
    path = zoo.pull("m")
    path.write_bytes(PAYLOAD[:-1] + b"\x01")  # corrupted on disk
    with pytest.raises(IntegrityError, match="sha256 .* expected"):
        zoo.verify("m")
    assert zoo.remove("m") and not path.exists() and not zoo.remove("m")


def test_unknown_name_suggests_close_ones(cache):
    with pytest.raises(ZooError, match="did you mean drunet_color"):
        zoo.get("drunet_colour")


def _pull_in_child(cache_root: str, url: str, queue) -> None:  # runs in a spawned process
    import os

    os.environ["RESTORA_CACHE"] = cache_root
    os.environ.pop("RESTORA_OFFLINE", None)
    from restora import zoo as child_zoo
    from tests.zoo.zoo_server import entry_for as make

    child_zoo.use_registry({"m": make("m", [url], PAYLOAD)})
    queue.put(str(child_zoo.pull("m")))


def test_two_processes_pulling_at_once_share_one_download(server, cache, tmp_path):
    url = server.serve("/m.pth", PAYLOAD)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_pull_in_child, args=(str(tmp_path / "cache"), url, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    paths = {queue.get(timeout=5) for _ in procs}
    assert all(p.exitcode == 0 for p in procs)
    assert paths == {str(cache / "m.pth")}
    assert (cache / "m.pth").read_bytes() == PAYLOAD
    assert server.hits["/m.pth"] == 1  # the second process waited for the first's file
    assert _leftovers(cache) == ["m.pth"]


def test_registry_rows_are_well_formed():
    models = zoo.load_registry()
    assert len(models) >= 40
    for name in ("drunet_color", "drunet_gray", "scunet_real", "swinir_x4", "swinir_x2",
                 "swinir_real_x4", "realesrgan_x4plus", "realesrgan_x2plus", "realesr_general_x4v3",
                 "bsrgan_x4", "fbcnn_color", "nafnet_sidd", "nafnet_gopro", "hat_s_x4",
                 "dncnn_color_blind", "ffdnet_color"):
        assert name in models
    kair = models["dncnn_25"]  # a pin hashed from the bytes (../shared/weights/kair)
    assert (kair.size, kair.sha256) == (2224903, "0451a70de9b672ae037270498fbb1c17a1c1c4403785df586ff65df5b858e5b0")
    for e in models.values():
        assert e.urls[0].startswith("https://") and e.licence
        assert not (e.needs_opt_in and e.prefer_for)


def test_web_requests_name_only_pulled_zoo_models(server, cache):
    from restora.errors import InvalidParameterError
    from restora.options import Request

    _use(entry_for("m", [server.serve("/m.pth", PAYLOAD)], PAYLOAD),
         entry_for("nc", [server.serve("/nc.pth", PAYLOAD)], PAYLOAD, non_commercial=True))
    with pytest.raises(InvalidParameterError, match="pulled on this server"):
        Request.from_mapping({"model": "m"}, untrusted=True)  # a web client cannot make us download
    zoo.pull("m")
    zoo.pull("nc", accept_licence=True)
    assert Request.from_mapping({"model": "m"}, untrusted=True).choice.model == "m"
    with pytest.raises(InvalidParameterError):
        Request.from_mapping({"model": "nc"}, untrusted=True)  # opt-in terms: not from the web
    with pytest.raises(InvalidParameterError, match="accept_licence cannot be set here"):
        Request.from_mapping({"model": "m", "accept_licence": True}, untrusted=True)


def test_models_commands_report_bad_input_in_one_line(server, cache, capsys):
    from restora.cli import main as cli

    nc = entry_for("nc", [server.serve("/nc.pth", PAYLOAD)], PAYLOAD, non_commercial=True,
                   licence="CC BY-NC-SA 4.0")
    _use(entry_for("m", [server.serve("/m.pth", PAYLOAD)], PAYLOAD), nc)
    assert cli(["models", "info", "mm"]) == 2
    assert "error: 'mm' is not a model in the zoo; did you mean m" in capsys.readouterr().err
    assert cli(["models", "pull", "nc"]) == 2  # the licence is shown, then refused
    err = capsys.readouterr().err
    assert "CC BY-NC-SA 4.0" in err and "--accept-licence" in err and err.count("error:") == 1
    assert _leftovers(cache) == [] and server.hits["/nc.pth"] == 0
    assert cli(["models", "pull", "m"]) == 0
    (cache / "m.pth").write_bytes(b"damaged")
    assert cli(["models", "verify"]) == 2
    assert "1 of 1 failed" in capsys.readouterr().err
    assert cli(["models", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["m"]["pulled"] and not rows["nc"]["pulled"] and rows["nc"]["non_commercial"]
