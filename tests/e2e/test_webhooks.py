"""Callbacks: a finished job and a finished batch each reach the client once, signed."""

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from pipelines.webhooks import SIGNATURE_HEADER, verify
from tests.e2e.conftest import WEBHOOK_SECRET, wait_for_job
from tests.fakes.server_thread import ServerThread

pytestmark = pytest.mark.e2e


class Receiver:
    """A client's webhook endpoint; the first call answers 503 to prove delivery is retried."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.refused = 0
        self.app = FastAPI()
        self.app.add_api_route("/hook", self.hook, methods=["POST"])

    async def hook(self, request: Request) -> Response:
        if self.refused == 0:
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


def test_completed_job_calls_back_signed_after_a_retry(
    api: httpx.Client, session_id: str, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    accepted = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Hi!", "callback_url": url})
    job = wait_for_job(api, accepted.json()["job_id"])
    assert job["status"] == "completed"
    (event,) = target.wait_for(1)
    assert target.refused == 1
    assert event["event"] == "job.completed" and event["data"]["job_id"] == job["id"]
    assert event["data"]["reply"]["text"] == job["reply"]["text"]
    time.sleep(2)
    assert len(target.calls) == 1  # delivered once


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
    assert event["event"] == "transcription.failed"  # its only file was silent
    assert event["data"]["batch_id"] == accepted.json()["batch_id"] and event["data"]["files_failed"] == 1
