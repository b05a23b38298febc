"""The control panel: its admin read endpoints against the real stack, and the page at /control in real
headless Chromium (key typed once, STT switch round trip, live tables, no sideways scroll at phone size).
"""

import io
import time
import wave
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from pipelines.queues import WORKER_POOLS, Queue
from schemas.api_keys import Scope
from tests.browser import needs_chromium, watch
from tests.e2e.conftest import wait_for_job
from tests.e2e.page_checks import VIEWPORTS, save_screenshots
from tools.stack import Stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30, headers=stack.api_headers) as client:
        yield client


@pytest.fixture(scope="module")
def finished_turn(api: httpx.Client) -> dict[str, Any]:
    """One typed turn, played through the whole pipeline: the recent-jobs list must show it."""
    session = api.post("/v1/sessions", json={}).json()["id"]
    accepted = api.post(f"/v1/sessions/{session}/utterances", json={"text": "Hi! What is your name?"})
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(api, accepted.json()["job_id"])
    assert job["status"] == "completed", f"{job['status']}: {job.get('error')}"
    return job


@pytest.fixture(scope="module")
def finished_batch(api: httpx.Client) -> dict[str, Any]:
    """A one-file batch that fails its file (silence): progress without waiting on a transcription."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\0\0" * 16_000)
    accepted = api.post(
        "/v1/transcriptions", files=[("files", ("quiet.wav", buffer.getvalue(), "audio/wav"))]
    )
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    deadline = time.monotonic() + 120
    while (batch := api.get(f"/v1/transcriptions/{batch_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"batch {batch_id} did not finish: {batch}"
        time.sleep(0.25)
    return dict(batch)


EMBEDDED_POOLS = ("stt-cpu", "llm", "tts", "animation")  # one worker each in the embedded stack


def status_with_workers(admin: httpx.Client, pools: tuple[str, ...], timeout: float = 60) -> dict[str, Any]:
    """The panel's status once every pool in ``pools`` has a worker online: a worker busy with a task
    may miss one census broadcast and show up in the next."""
    deadline = time.monotonic() + timeout
    while True:
        response = admin.get("/v1/control/status")
        assert response.status_code == 200, response.text
        status: dict[str, Any] = response.json()
        online = {pool["pool"] for pool in status["pools"] if pool["workers"]}
        if set(pools) <= online:
            return status
        assert time.monotonic() < deadline, f"pools without a worker online: {set(pools) - online}"
        time.sleep(0.5)


def test_status_reports_every_queue_the_workers_online_and_the_routing(admin: httpx.Client) -> None:
    status = status_with_workers(admin, EMBEDDED_POOLS)
    assert status["workers_checked"] is True
    queues = {queue["name"]: queue for queue in status["queues"]}
    assert set(queues) == {queue.value for queue in Queue}
    assert all(queue["depth"] >= 0 for queue in queues.values())
    pools = {pool["pool"]: pool for pool in status["pools"]}
    assert set(WORKER_POOLS) <= set(pools)
    assert pools["stt-gpu"]["device"] == "gpu" and pools["stt-cpu"]["device"] == "cpu"
    # Each pool's workers are listed on its queues; the embedded stack has no GPU worker.
    for pool in EMBEDDED_POOLS:
        for queue in pools[pool]["queues"]:
            assert set(pools[pool]["workers"]) <= set(queues[queue]["workers"]), queue
    assert pools["stt-gpu"]["workers"] == [] and queues[Queue.stt_live_gpu.value]["workers"] == []
    stt = admin.get("/v1/control/stt").json()
    assert status["stt"] == {
        "mode": stt["mode"],
        "routes_to": stt["routes_to"],
        "gpu_workers": stt["gpu_workers"],
    }
    assert status["links"]["docs"].endswith("/docs")
    assert admin.get(status["links"]["docs"]).status_code == 200


def test_recent_jobs_carry_each_stage_s_timing(admin: httpx.Client, finished_turn: dict[str, Any]) -> None:
    jobs = admin.get("/v1/jobs", params={"limit": 50}).json()
    found = [job for job in jobs if job["id"] == finished_turn["id"]]
    assert len(found) == 1, [job["id"] for job in jobs]
    summary = found[0]
    assert summary["status"] == "completed" and summary["kind"] == "text"
    assert summary["input_text"] == "Hi! What is your name?"
    assert summary["reply_text"] == finished_turn["reply"]["text"]
    for stage in ("llm", "tts", "animation"):
        assert summary["timings"][stage]["seconds"] > 0, stage
    assert summary["timings"]["tts"] == finished_turn["timings"]["tts"]  # summed over segments alike
    assert summary["total_s"] >= summary["timings"]["llm"]["seconds"]
    times = [job["created_at"] for job in jobs]
    assert times == sorted(times, reverse=True), "not newest first"
    completed = admin.get("/v1/jobs", params={"status": "completed", "limit": 200}).json()
    assert completed and {job["status"] for job in completed} == {"completed"}


def test_recent_batches_show_their_progress(admin: httpx.Client, finished_batch: dict[str, Any]) -> None:
    batches = admin.get("/v1/control/batches").json()
    summary = next(batch for batch in batches if batch["id"] == finished_batch["id"])
    assert (
        summary["progress"]
        == finished_batch["progress"]
        == {"files_total": 1, "files_done": 0, "files_failed": 1}
    )
    assert summary["status"] == "failed"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/jobs", {"limit": 0}),
        ("/v1/jobs", {"limit": 201}),
        ("/v1/jobs", {"status": "lost"}),
        ("/v1/control/batches", {"limit": "many"}),
    ],
)
def test_bad_queries_are_a_422_validation_error(
    admin: httpx.Client, path: str, params: dict[str, Any]
) -> None:
    response = admin.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("path", ["/v1/control/status", "/v1/jobs", "/v1/control/batches"])
def test_only_admin_keys_read_the_panel(api: httpx.Client, stack: Stack, path: str) -> None:
    client_only = api.get(path)
    assert client_only.status_code == 403 and client_only.json()["error"]["code"] == "forbidden"
    anonymous = httpx.get(f"{stack.api_url}{path}")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"


# --- the page in a real browser ---------------------------------------------------------------


@needs_chromium
def test_control_page_switches_stt_and_shows_turns_batches_and_workers(
    admin: httpx.Client,
    stack: Stack,
    browser: "Browser",
    finished_turn: dict[str, Any],
    finished_batch: dict[str, Any],
) -> None:
    before = admin.get("/v1/control/stt").json()["mode"]
    admin_key = stack.create_key("control panel", [Scope.client, Scope.admin])
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    errors = watch(page).errors
    try:
        page.goto(f"{stack.api_url}/control")
        page.fill("#key", admin_key)
        page.click("#login-form button")
        refreshed = "(n) => Number(document.body.dataset.refreshes) >= n"
        page.wait_for_function(refreshed, arg=1, timeout=30_000)
        assert page.evaluate("() => document.body.dataset.stt") == before

        # Both ways round: the page's switch reaches the API, the API's switch reaches the page.
        page.click("#stt-mode label:has(input[value=cpu])")
        page.wait_for_function("() => document.body.dataset.stt === 'cpu'", timeout=30_000)
        assert admin.get("/v1/control/stt").json()["mode"] == "cpu"
        assert "routes to the CPU pool" in (page.text_content("#routing") or "")
        assert admin.put("/v1/control/stt", json={"mode": "gpu"}).status_code == 200
        page.wait_for_function("() => document.body.dataset.stt === 'gpu'", timeout=30_000)
        assert page.is_checked("#stt-mode input[value=gpu]")
        page.click("#stt-mode label:has(input[value=auto])")
        page.wait_for_function("() => document.body.dataset.stt === 'auto'", timeout=30_000)
        assert admin.get("/v1/control/stt").json()["mode"] == "auto"

        page.wait_for_selector(f'#jobs tr[data-job="{finished_turn["id"]}"]', timeout=30_000)
        row = page.inner_text(f'#jobs tr[data-job="{finished_turn["id"]}"]')
        assert "completed" in row and "Hi! What is your name?" in row
        llm_seconds = finished_turn["timings"]["llm"]["seconds"]
        assert (f"{llm_seconds:.2f} s" if llm_seconds < 10 else f"{llm_seconds:.1f} s") in row
        assert "1/1 files (1 failed)" in (page.inner_text("#batches") or "")
        gpu_pool = page.locator('#pools tr[data-pool="stt-gpu"]')
        assert gpu_pool.get_attribute("class") == "down" and "GPU" in gpu_pool.inner_text()
        llm_pool = page.locator('#pools tr[data-pool="llm"]')
        assert llm_pool.get_attribute("class") != "down" and "CPU" in llm_pool.inner_text()
        flower = page.get_attribute("#link-flower", "href")
        assert flower and flower.startswith("http") and page.get_attribute("#link-grafana", "href") != "#"

        # The key stays for this tab: a reload opens the panel again without asking.
        page.reload()
        page.wait_for_function(refreshed, arg=1, timeout=30_000)
        assert page.is_hidden("#login")
        save_screenshots(page, "control")
        assert errors == [], errors
    finally:
        admin.put("/v1/control/stt", json={"mode": before})
        context.close()


@needs_chromium
def test_control_page_refuses_a_client_key_and_asks_again(
    api: httpx.Client, stack: Stack, browser: "Browser"
) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{stack.api_url}/control")
        page.fill("#key", str(api.headers["Authorization"]).removeprefix("Bearer "))
        page.click("#login-form button")
        page.wait_for_selector("#login:not([hidden])", timeout=30_000)
        assert "forbidden" in (page.text_content("#status") or "")
        assert page.evaluate("() => sessionStorage.getItem('vtuber-admin-key')") is None
    finally:
        page.close()
