"""The whole stack as real processes: Redis, MongoDB-protocol server, Celery workers, API."""

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from schemas.api_keys import Scope
from tests.conftest import TEST_ENV
from tools.stack import Stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# Short enough that a message held by a SIGKILLed worker comes back within the test, long enough
# to exceed every task of this suite (test-sized replies take a few seconds).
VISIBILITY_TIMEOUT_S = 30
WEBHOOK_SECRET = "e2e-webhook-secret"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        **TEST_ENV,
        "VTUBER_BROKER_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
        "VTUBER_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "VTUBER_CALLBACK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',  # the tests' receivers are local
        # The sweep runs often and judges quickly, so lost work comes back within a test's wait.
        "VTUBER_RECOVERY_INTERVAL_S": "5",
        "VTUBER_RECOVERY_IDLE_S": "20",
        # One key submits the whole suite's turns, some in bursts, and Schemathesis sends requests as
        # fast as the limit allows, so the next test's first would meet it (rate limits have their
        # own test: tests/integration/test_access.py).
        "VTUBER_SUBMIT_RATE_LIMIT": "10000/minute",
        "VTUBER_RATE_LIMIT": "100000/second",
        "VTUBER_MAX_JOBS_IN_FLIGHT": "200",
    }
    stack = Stack(run_dir=tmp_path_factory.mktemp("stack"), env=env)
    try:
        stack.start()
        stack.wait_for_workers()
        yield stack
    finally:
        stack.stop_all()


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[httpx.Client]:
    """A client with a key of the client scope: it reads only what it created."""
    headers = {"Authorization": f"Bearer {stack.create_key('e2e client', [Scope.client])}"}
    with httpx.Client(base_url=stack.api_url, timeout=30, headers=headers) as client:
        yield client


@pytest.fixture
def session_id(api: httpx.Client) -> str:
    response = api.post("/v1/sessions", json={})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def wait_for_job(api: httpx.Client, job_id: str, *, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed"):
            return dict(job)
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s: {job}")


def wait_for_stage(api: httpx.Client, job_id: str, stage: str, *, timeout: float = 60) -> None:
    """Poll fast until the job is working on ``stage`` (to strike while that stage runs)."""
    deadline = time.monotonic() + timeout
    while api.get(f"/v1/jobs/{job_id}").json()["stage"] != stage:
        assert time.monotonic() < deadline, f"stage {stage} never started"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def browser() -> Iterator["Browser"]:
    """Headless Chromium (tests/browser.py) for one module's page tests. Not for the whole session:
    Playwright's sync API keeps an event loop running in the main thread while it is open, which
    breaks every later test that calls asyncio.run."""
    from tests.browser import launch_chromium

    with launch_chromium() as chromium:
        yield chromium
