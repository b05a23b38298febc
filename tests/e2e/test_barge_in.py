"""Barge-in on a real turn: the viewer cuts the avatar off after its first sentence is voiced.

Nothing after the cut is announced or synthesized, the turn ends `interrupted` with what was
heard, and the next reply's prompt carries the cut.
"""

import json
import time
from typing import Any

import httpx
import pytest
import redis
from httpx_sse import connect_sse
from pymongo import MongoClient

from pipelines.celery_app import make_celery
from pipelines.queues import Queue
from pipelines.settings import Settings
from tests.conftest import TEST_ENV
from tests.e2e.conftest import wait_for_job
from tools.stack import Stack

pytestmark = pytest.mark.e2e

LONG_STORY = "Tell me a long story about a brave little dragon, in at least six sentences."


def wait_until_idle(stack: Stack, timeout: float = 60) -> None:
    """Until no queue holds a message and no worker runs a task: whatever follows has happened."""
    app = make_celery(Settings(redis_url=stack.redis_url, mongo_url=stack.mongo_url))
    broker = redis.Redis.from_url(stack.redis_url)
    deadline = time.monotonic() + timeout
    while True:
        queued = sum(int(broker.llen(queue.value)) for queue in Queue)
        active = app.control.inspect(timeout=1.0).active() or {}
        running = [task for tasks in active.values() for task in tasks]
        if queued == 0 and not running and not broker.hlen("unacked"):
            return
        assert time.monotonic() < deadline, f"still busy: {queued} queued, {running}"
        time.sleep(0.2)


def test_cancel_after_the_first_sentence_stops_the_turn(api: httpx.Client, stack: Stack) -> None:
    session = api.post("/v1/sessions", json={}).json()["id"]
    job_id = api.post(f"/v1/sessions/{session}/utterances", json={"text": LONG_STORY}).json()["job_id"]
    seen: list[dict[str, Any]] = []
    with connect_sse(api, "GET", f"/v1/jobs/{job_id}/events", timeout=180) as source:
        for message in source.iter_sse():
            if not message.data:
                continue  # a keep-alive ping: httpx_sse, unlike browsers, dispatches it once an id was seen
            seen.append({"type": message.event, **json.loads(message.data)})
            if message.event == "segment.audio_ready" and not any(
                e["type"] == "job.interrupted" for e in seen
            ):
                cancelled = api.post(f"/v1/jobs/{job_id}/cancel", json={})
                assert cancelled.status_code == 200, cancelled.text
                cut_at = time.monotonic()
            if message.event in ("job.completed", "job.failed", "job.interrupted"):
                ended_at = time.monotonic()
                break
    types = [e["type"] for e in seen]
    assert types[-1] == "job.interrupted", types
    assert ended_at - cut_at < 2.0  # the end is announced at once (the bench measures it closely)
    audio_ready = [e["segment"]["index"] for e in seen if e["type"] == "segment.audio_ready"]
    assert audio_ready == [0]  # nothing after the cut was announced

    wait_until_idle(stack)  # every task sent before or after the cut has run by now
    db: Any = MongoClient(stack.mongo_url)[TEST_ENV["VTUBER_MONGO_DB"]]
    job = db.jobs.find_one({"_id": job_id})
    assert job["status"] == "interrupted" and job["interruption"]["by"] == "cancel"
    first = db.segments.find_one({"job_id": job_id, "index": 0})
    assert job["interruption"]["heard_text"] == first["text"] and job["interruption"]["heard_segments"] == 1
    voiced = [s["index"] for s in db.segments.find({"job_id": job_id}) if s.get("audio_id")]
    assert voiced == [0], voiced  # no later segment was synthesized
    assert db["audio.files"].count_documents({"metadata.job_id": job_id, "metadata.segment": {"$gt": 0}}) == 0
    assert api.post(f"/v1/jobs/{job_id}/cancel", json={}).status_code == 409  # already over

    turns = [
        json.loads(t) for t in redis.Redis.from_url(stack.redis_url).lrange(f"session:{session}:turns", 0, -1)
    ]
    assert [(t["job_id"], t["assistant"], t["interrupted"]) for t in turns] == [(job_id, first["text"], True)]
    view = api.get(f"/v1/jobs/{job_id}").json()
    assert view["status"] == "interrupted" and view["interruption"]["heard_text"] == first["text"]


def test_an_utterance_with_interrupt_cuts_the_current_turn(api: httpx.Client) -> None:
    session = api.post("/v1/sessions", json={}).json()["id"]
    first = api.post(f"/v1/sessions/{session}/utterances", json={"text": LONG_STORY}).json()["job_id"]
    deadline = time.monotonic() + 120
    while api.get(f"/v1/jobs/{first}").json()["status"] == "queued":
        assert time.monotonic() < deadline, "the first turn never started"
        time.sleep(0.05)
    second = api.post(
        f"/v1/sessions/{session}/utterances", json={"text": "Wait, stop! Say hi instead.", "interrupt": True}
    ).json()["job_id"]
    cut = api.get(f"/v1/jobs/{first}").json()
    assert cut["status"] == "interrupted" and cut["interruption"]["by"] == "utterance"
    answered = wait_for_job(api, second)
    assert answered["status"] == "completed", answered["error"]
