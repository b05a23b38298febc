"""Property-based tests of the whole OpenAPI schema against the running stack (Schemathesis).

Every operation gets schema-valid and schema-violating requests; none may answer 5xx, and every
answer must be a documented status with a body matching its documented schema. Examples per
operation and mode are bounded and derandomized, so a run takes minutes and fails the same way twice.

Each operation is its own test, generated from the schema the running API serves at /openapi.json
(the operation list for collection comes from the app object; a test fails if the two differ).
Schemathesis' own lazy pytest loader (``from_fixture``) needs a pytest internal that pytest 9
removed, so the Hypothesis test is built here from ``operation.as_strategy``.
"""

import time
from collections.abc import Iterator

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Err
from schemathesis.specs.openapi import checks as openapi_checks

from api.main import app

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 25
CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]


def operation_labels(schema: schemathesis.BaseSchema) -> list[str]:
    """Every operation's label ("GET /v1/jobs/{job_id}"); an operation Schemathesis cannot read
    fails here, with its error."""
    labels = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        labels.append(result.ok().label)
    return sorted(labels)


OPERATIONS = operation_labels(schemathesis.openapi.from_dict(app.openapi()))


def can_be_violated(label: str) -> bool:
    """Whether the schema leaves anything to get wrong (a body or a parameter with a type or a
    shape); negative generation of an operation without one is unsatisfiable."""
    method, path = label.split(" ", 1)
    operation = app.openapi()["paths"][path][method.lower()]
    return "requestBody" in operation or any(
        parameter["schema"] != {"type": "string", "title": parameter["schema"].get("title")}
        for parameter in operation.get("parameters", [])
    )


CASES = [
    pytest.param(label, mode, id=f"{label}-{mode.value}")
    for label in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or can_be_violated(label)
]


@pytest.fixture(scope="module")
def live_schema(api: httpx.Client) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api.base_url}/openapi.json", headers=dict(api.headers))


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def real_session(api: httpx.Client) -> str:
    response = api.post("/v1/sessions", json={})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_the_live_schema_is_the_apps(live_schema: schemathesis.BaseSchema) -> None:
    assert operation_labels(live_schema) == OPERATIONS


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_no_5xx_and_every_answer_matches_the_schema(
    label: str,
    mode: GenerationMode,
    live_schema: schemathesis.BaseSchema,
    api: httpx.Client,
    http: requests.Session,
    real_session: str,
) -> None:
    operation = live_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the live schema"
    count = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        nonlocal count
        count += 1
        # Random ids name nothing (404 before any work); every third case on a session gets a real
        # one, so its body is validated and, when valid, a turn is queued: a bounded number of
        # turns (MAX_EXAMPLES / 3 per operation) for the workers. Not for the session's event
        # stream, which stays open as long as the session lives.
        if "session_id" in case.path_parameters and count % 3 == 0 and not label.endswith("/events"):
            case.path_parameters["session_id"] = real_session

        def call() -> schemathesis.Response:
            return case.call(base_url=str(api.base_url), session=http, headers=dict(api.headers), timeout=60)

        response = call()
        for _ in range(20):  # the key's request rate limit: wait, so the input is what gets tested
            if response.status_code != 429:
                break
            time.sleep(float((response.headers.get("retry-after") or ["1"])[0]))
            response = call()
        case.validate_response(response, checks=CHECKS, headers=dict(api.headers))

    # PUT /v1/control/stt (admin keys only) would move new speech work to random pools: put it back.
    control = api.get("/v1/control/stt")
    try:
        run()
    finally:
        if control.status_code == 200:
            api.put("/v1/control/stt", json={"mode": control.json()["mode"]})
