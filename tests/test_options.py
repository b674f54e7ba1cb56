"""The one request type: declared once, checked once, offered by every entry point."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from typer.testing import CliRunner

from restora.cli import app
from restora.errors import InvalidParameterError
from restora.options import (
    ALL_GROUPS,
    COMMON_PARAMS,
    GROUPS,
    TASKS,
    Choice,
    Execution,
    Output,
    Params,
    Request,
    parse_method_options,
)


def _flag(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def _help(command: str) -> str:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(("command", "groups"), [
    ("restore", GROUPS),
    ("batch", GROUPS),
    ("eval", (Choice, Params, Execution)),
])
def test_every_option_is_a_flag_of_every_command_with_its_one_help_text(command, groups):
    text = " ".join(_help(command).split())
    skipped = {"eval": {"mask", "seed", "max_pixels", "raw_develop"}}.get(command, set())
    for group in groups:
        for field in dataclasses.fields(group):
            if field.name in skipped:
                continue
            assert _flag(field) in text, f"{command} lacks {_flag(field)}"
            words = " ".join(field.metadata["help"].split()[:4])
            assert words in text, f"{command} --{field.name}: help text differs"


def test_the_web_form_has_exactly_the_web_fields():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from restora.web import ServerSettings, create_app

    with TestClient(create_app(ServerSettings()), base_url="http://127.0.0.1") as client:
        schema = client.get("/api/openapi.json").json()
    body = schema["paths"]["/api/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    properties = schema["components"]["schemas"][ref]["properties"]
    web = {f.name for g in ALL_GROUPS for f in dataclasses.fields(g) if f.metadata["web"]}
    assert set(properties) == web | {"files"}
    assert properties["sigma"]["description"] == dataclasses.fields(Params)[0].metadata["help"]


def test_defaults_are_the_same_everywhere():
    assert Choice().task == "auto" == TASKS[0]
    assert (Execution().device, Execution().precision, Execution().tile) == ("auto", "auto", "auto")
    assert Output().format == "same" and Output().jpeg_quality == 95
    assert COMMON_PARAMS == ("sigma", "scale", "kernel", "quality", "seed", "mask", "bayer",
                             "strength")


def test_from_mapping_routes_fields_and_refuses_unknown_ones():
    request = Request.from_mapping({"task": "denoise", "sigma": 10, "device": "CPU",
                                    "format": "png"})
    assert request.choice.task == "denoise" and request.params.sigma == 10.0
    assert request.execution.device == "cpu" and request.output.format == "png"
    with pytest.raises(InvalidParameterError, match=r"unknown option\(s\) sigmaa; known: task"):
        Request.from_mapping({"sigmaa": 3})


@pytest.mark.parametrize(("values", "message"), [
    ({"task": "sharpen"}, "task must be one of auto, denoise"),
    ({"method": "nlm", "model": "x.pth"}, "either a method or a model"),
    ({"sigma": -1}, "sigma must be a number in [0, 255]"),
    ({"sigma": float("nan")}, "sigma must be a number"),
    ({"scale": 1.5}, "scale must be an integer in 1..16"),
    ({"quality": 101}, "quality must be an integer in 1..100"),
    ({"seed": True}, "seed must be an integer"),
    ({"bayer": "RGBW"}, "bayer must be one of RGGB"),
    ({"options": {"sigma": 3}}, "give sigma as its own option"),
    ({"device": "gpu"}, "device must be one of auto, cpu, cuda, cuda:N, mps"),
    ({"precision": "fp8"}, "precision must be one of auto"),
    ({"tile": "big"}, "tile must be auto, 0"),
    ({"overlap": -1}, "overlap must be an integer >= 0"),
    ({"threads": 0}, "threads must be an integer >= 1"),
    ({"bit_depth": 12}, "bit_depth must be 8, 16 or 32"),
    ({"format": "gif"}, "format must be one of same, png"),
    ({"format": "tiff16", "bit_depth": 8}, "writes 16-bit files"),
    ({"suffix": "../x"}, "cannot contain '/'"),
])
def test_each_value_is_checked_once_with_one_message(values, message):
    with pytest.raises(InvalidParameterError) as info:
        Request.from_mapping(values)
    assert message in str(info.value)


def test_tiles_from_the_command_line_and_from_python():
    assert Execution(tile="auto").tile == "auto" and Execution(tile="0").tile is None
    assert Execution(tile="256").tile == 256 and Execution(tile=None).tile is None
    assert Execution(tile=0).tile is None


def test_untrusted_requests_name_no_files_and_set_no_execution(tmp_path):
    kernel = tmp_path / "k.npy"
    np.save(kernel, np.ones((3, 3)))
    for values, message in (({"kernel": str(kernel)}, "kernel must be 'gauss:SIGMA'"),
                            ({"model": "/etc/passwd"}, "shipped weight set"),
                            ({"device": "cuda"}, "device cannot be set here"),
                            ({"options": {"steps": 10**6}}, "method options cannot be set")):
        with pytest.raises(InvalidParameterError, match=message):
            Request.from_mapping(values, untrusted=True, source="job")
    trusted = Request.from_mapping({"kernel": "gauss:2", "model": "upscale_real_x4"},
                                   untrusted=True)
    assert trusted.params.kernel == "gauss:2"


def test_fingerprint_is_what_decides_the_output(tmp_path):
    kernel = tmp_path / "k.npy"
    np.save(kernel, np.eye(3) / 3)
    base = Request.from_mapping({"task": "deblur", "kernel": str(kernel)})
    fast = Request.from_mapping({"task": "deblur", "kernel": str(kernel), "device": "cpu",
                                 "threads": 1, "tile": 256, "batch": 4})
    assert base.fingerprint() == fast.fingerprint()  # how it runs is not what it makes
    assert "kernel_sha256" in base.fingerprint()
    before = base.fingerprint()
    np.save(kernel, np.ones((3, 3)) / 9)  # same path, other content: another output
    assert base.fingerprint() != before
    assert Request.from_mapping({"format": "png"}).fingerprint() == {"format": "png"}


def test_method_options_parse_as_literals():
    assert parse_method_options(["iterations=250", "mode=fast", "flag=True", "x=None"]) == {
        "iterations": 250, "mode": "fast", "flag": True, "x": None}
    with pytest.raises(InvalidParameterError, match="expected KEY=VALUE"):
        parse_method_options(["250"])
