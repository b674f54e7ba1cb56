"""API contract tests generated from the OpenAPI document (schemathesis + hypothesis).

Every operation gets a bounded number of generated requests (valid and invalid parameters,
random multipart bodies) against a real uvicorn server on 127.0.0.1; none may answer 5xx,
and every error must be JSON ``{"detail": "..."}`` with a string message.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("fastapi", reason="the 'web' extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the 'web' extra (uvicorn) is not installed")
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from web_helpers import encode, live_server, noisy_photo

from restora.web import ServerSettings, create_app

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def server():
    """(URL, id of a finished job) of a server on 127.0.0.1."""
    import httpx

    with live_server(ServerSettings(max_upload_mb=1.0, max_pixels=1_000_000, workers=1)) as url:
        png = encode(noisy_photo(size=48)[1], "PNG")
        job = httpx.post(f"{url}/api/jobs", files={"files": ("a.png", png)},
                         data={"task": "denoise", "sigma": "20"}).json()
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/api/jobs/{job['id']}").json()["finished"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield url, job["id"]


def operations():
    schema = schemathesis.openapi.from_dict(create_app().openapi())
    return [result.ok() for result in schema.get_all_operations()]


def test_openapi_lists_the_api():
    labels = sorted(op.label for op in operations())
    assert labels == [
        "DELETE /api/jobs/{job_id}",
        "GET /api/health",
        "GET /api/jobs/{job_id}",
        "GET /api/jobs/{job_id}/events",
        "GET /api/jobs/{job_id}/results.zip",
        "GET /api/jobs/{job_id}/results/{index}",
        "GET /api/methods",
        "POST /api/jobs",
    ]


@pytest.mark.parametrize("operation", operations(), ids=lambda op: op.label)
def test_no_server_errors(server, operation):
    url, job_id = server
    # cases from the document (examples, coverage of edge values) and random ones
    strategy = operation.as_strategy()
    if _has_parameters(operation):
        strategy = st.one_of(strategy, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy, real_job=st.booleans())
    def check(case, real_job):
        if real_job and "job_id" in (case.path_parameters or {}) and case.method != "DELETE":
            case.path_parameters["job_id"] = job_id  # reach past the 404 to the job's routes
        response = case.call(base_url=url, timeout=30)
        case.validate_response(response, checks=[not_a_server_error])
        if response.status_code >= 400:
            body = response.json()
            assert isinstance(body.get("detail"), str) and body["detail"], body

    check()


def _has_parameters(operation) -> bool:
    return bool(operation.path_parameters or operation.body)
