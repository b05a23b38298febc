"""Callbacks: a finished job and a finished batch each reach the client once, signed; a notify
worker killed mid-delivery loses nothing, and its repeat carries the same event id."""

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from pymongo import MongoClient

from pipelines.webhooks import ATTEMPT_HEADER, SIGNATURE_HEADER, verify
from tests.conftest import TEST_ENV
from tests.e2e.conftest import VISIBILITY_TIMEOUT_S, WEBHOOK_SECRET, wait_for_job
from tests.fakes.server_thread import ServerThread
from tools.stack import Stack

pytestmark = pytest.mark.e2e


class Receiver:
    """A client's webhook endpoint; the first call answers 503 to prove delivery is retried, or,
    with ``hold_first``, is held unanswered (to kill the sender mid-delivery), or, with
    ``redirect_to``, every call is redirected there."""

    def __init__(self, *, hold_first: bool = False, redirect_to: str = "") -> None:
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.held: list[bytes] = []
        self.refused = 0
        self.hold_first = hold_first
        self.redirect_to = redirect_to
        self.redirected = 0
        self.app = FastAPI()
        self.app.add_api_route("/hook", self.hook, methods=["POST"])

    async def hook(self, request: Request) -> Response:
        if self.redirect_to:
            self.redirected += 1
            return Response(status_code=307, headers={"Location": self.redirect_to})
        if self.hold_first and not self.held:
            self.held.append(await request.body())
            await asyncio.sleep(120)  # the sender dies while it waits for this answer
            return Response(status_code=204)
        if not self.hold_first and self.refused == 0:
            self.refused += 1
            return Response(status_code=503)
        self.calls.append((await request.body(), dict(request.headers)))
        return Response(status_code=204)

    def wait_for(self, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.calls) >= count, f"{len(self.calls)} webhook calls"
        events = []
        for body, headers in self.calls:
            assert verify(body, headers[SIGNATURE_HEADER.lower()], WEBHOOK_SECRET)
            events.append(json.loads(body))
        return events


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()
    server = ServerThread(target.app).start()
    yield target, f"{server.url}/hook"
    server.stop()


def wait_for_recorded_delivery(
    stack: Stack, kind: str, object_id: str, timeout: float = 60
) -> dict[str, Any]:
    """Until the notify task recorded the receiver's answer: after that it sends nothing more.
    Returns the job or batch document (``webhook``, ``webhook_attempts``)."""
    database: Any = MongoClient(stack.mongo_url)[TEST_ENV["VTUBER_MONGO_DB"]]
    collection = database["jobs" if kind == "job" else "batches"]
    deadline = time.monotonic() + timeout
    while not (found := collection.find_one({"_id": object_id}) or {}).get("webhook"):
        assert time.monotonic() < deadline, "the delivery was never recorded"
        time.sleep(0.1)
    return dict(found)


def attempts(doc: dict[str, Any]) -> list[tuple[int, int | None]]:
    return [(a["attempt"], a["status_code"]) for a in doc.get("webhook_attempts", [])]


def test_completed_job_calls_back_signed_after_a_retry(
    api: httpx.Client, session_id: str, receiver: tuple[Receiver, str], stack: Stack
) -> None:
    target, url = receiver
    accepted = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Hi!", "callback_url": url})
    job = wait_for_job(api, accepted.json()["job_id"])
    assert job["status"] == "completed"
    (event,) = target.wait_for(1)
    assert target.refused == 1
    assert event["event"] == "job.completed" and event["data"]["job_id"] == job["id"]
    assert event["data"]["reply"]["text"] == job["reply"]["text"]
    assert event["id"] == f"job.completed:{job['id']}"
    assert target.calls[0][1][ATTEMPT_HEADER.lower()] == "2"  # the 503 was attempt 1
    recorded = wait_for_recorded_delivery(stack, "job", job["id"])
    assert len(target.calls) == 1  # delivered once
    assert attempts(recorded) == [(1, 503), (2, 204)]
    assert recorded["webhook"]["status_code"] == 204


def test_verbatim_lines_call_back_with_or_without_a_session(
    session_id: str, receiver: tuple[Receiver, str], stack: Stack
) -> None:
    """Direct control's jobs end like turns: kind speak in a session, kind animation without one."""
    target, url = receiver
    with httpx.Client(base_url=stack.api_url, timeout=30, headers=stack.api_headers) as admin:
        spoken = admin.post(
            f"/v1/sessions/{session_id}/speak", json={"text": "[happy] Thanks!", "callback_url": url}
        )
        baked = admin.post("/v1/animation", json={"text": "Welcome back.", "callback_url": url})
        assert spoken.status_code == baked.status_code == 202, (spoken.text, baked.text)
        jobs = [wait_for_job(admin, r.json()["job_id"]) for r in (spoken, baked)]
    assert [job["status"] for job in jobs] == ["completed", "completed"], jobs
    events = {event["data"]["job_id"]: event for event in target.wait_for(2)}
    for job, session in zip(jobs, (session_id, None), strict=True):
        event = events[job["id"]]
        assert event["event"] == "job.completed" and event["data"]["session_id"] == session
        assert event["data"]["reply"]["text"] == job["reply"]["text"]


def test_a_redirect_into_the_cloud_metadata_service_is_not_followed_nor_retried(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    target = Receiver(redirect_to="http://169.254.169.254/latest/meta-data/")
    server = ServerThread(target.app).start()
    try:
        accepted = api.post(
            f"/v1/sessions/{session_id}/utterances",
            json={"text": "Hi!", "callback_url": f"{server.url}/hook"},
        )
        job = wait_for_job(api, accepted.json()["job_id"])
        recorded = wait_for_recorded_delivery(stack, "job", job["id"])
    finally:
        server.stop()
    assert recorded["webhook"]["status_code"] is None
    assert recorded["webhook"]["error"].startswith("callback_not_allowed")
    assert attempts(recorded) == [(1, None)] and "169.254.169.254" in recorded["webhook_attempts"][0]["error"]
    assert target.redirected == 1  # refused at once, never retried


def test_a_notify_worker_killed_mid_delivery_loses_nothing(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    target = Receiver(hold_first=True)
    server = ServerThread(target.app).start()
    try:
        accepted = api.post(
            f"/v1/sessions/{session_id}/utterances",
            json={"text": "Hi!", "callback_url": f"{server.url}/hook"},
        )
        job = wait_for_job(api, accepted.json()["job_id"])
        deadline = time.monotonic() + 60
        while not target.held:  # the first delivery is in flight: the receiver holds it
            assert time.monotonic() < deadline, "no delivery started"
            time.sleep(0.05)
        stack.kill(stack.running_workers("notify")[0], signal.SIGKILL)
        stack.start_worker("notify", suffix="-after-kill")
        # The held message comes back after the visibility timeout and is delivered again.
        (event,) = target.wait_for(1, timeout=VISIBILITY_TIMEOUT_S + 90)
        wait_for_recorded_delivery(stack, "job", job["id"])
    finally:
        server.stop()
    first = json.loads(target.held[0])
    assert first["id"] == event["id"] == f"job.completed:{job['id']}"  # a receiver de-duplicates on it
    assert {json.loads(body)["id"] for body, _ in target.calls} == {event["id"]}


def test_finished_batch_calls_back(api: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    import numpy as np

    from pipelines.audio_codec import encode_audio

    target, url = receiver
    silent = encode_audio(np.zeros(16000, dtype=np.float32), 16000, "wav")
    accepted = api.post(
        "/v1/transcriptions",
        files=[("files", ("quiet.wav", silent, "audio/wav"))],
        data={"callback_url": url},
    )
    assert accepted.status_code == 202
    (event,) = target.wait_for(1)
    assert target.calls[0][1][ATTEMPT_HEADER.lower()] == "2"
    assert event["event"] == "transcription.failed"  # its only file was silent
    assert event["data"]["batch_id"] == accepted.json()["batch_id"] and event["data"]["files_failed"] == 1
