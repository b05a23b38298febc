"""Polling without waste: long-poll wakes on the next event, and a view costs a fixed number of queries.

The API runs in-process against real Redis and MongoDB-protocol servers; no workers: the test
itself plays the worker, writing MongoDB and then appending the event, in that order.
"""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pymongo import monitoring

from api.main import create_app
from pipelines import jobs
from pipelines.api_keys import create_key
from pipelines.events import EventLog
from pipelines.job_views import load_job_views
from pipelines.segments import put_segment
from pipelines.settings import Settings
from pipelines.storage import Storage
from schemas.api_keys import Scope
from schemas.errors import ErrorCode
from schemas.events import EventType
from schemas.jobs import Stage


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    storage = Storage(settings)
    _, secret = create_key(storage, name="views", scopes=[Scope.admin])  # jobs here have no owner
    storage.close()
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {secret}"}) as test_client:
        yield test_client


@pytest.fixture
def storage(settings: Settings) -> Iterator[Storage]:
    store = Storage(settings)
    yield store
    store.close()


@pytest.fixture
def events(settings: Settings) -> EventLog:
    return EventLog(redis.Redis.from_url(settings.redis_url), ttl_s=60)


def queued_job(storage: Storage, events: EventLog, session_id: str = "s1") -> dict[str, Any]:
    """A job accepted but not picked up by any worker (none runs here)."""
    job = jobs.create_job(
        storage, session_id=session_id, kind="text", persona="hana", persona_version="1", input_text="hi"
    )
    events.emit(EventType.job_queued, job)
    return job


def test_long_poll_returns_at_its_deadline_without_a_change(
    client: TestClient, storage: Storage, events: EventLog
) -> None:
    job = queued_job(storage, events)
    first = client.get(f"/v1/jobs/{job['_id']}").json()
    started = time.monotonic()
    again = client.get(f"/v1/jobs/{job['_id']}", params={"wait": 1.5, "since": first["version"]})
    elapsed = time.monotonic() - started
    assert again.status_code == 200 and again.json()["version"] == first["version"]
    assert 1.4 <= elapsed < 3.0, elapsed


def test_long_poll_returns_promptly_after_a_change(
    client: TestClient, storage: Storage, events: EventLog
) -> None:
    job = queued_job(storage, events)
    first = client.get(f"/v1/jobs/{job['_id']}").json()
    assert first["status"] == "queued" and first["version"] != "0-0"

    def worker_begins_llm() -> None:
        time.sleep(0.5)
        jobs.begin_stage(storage, job["_id"], Stage.llm)
        events.emit(EventType.stage_started, job, stage=Stage.llm)

    thread = threading.Thread(target=worker_begins_llm)
    started = time.monotonic()
    thread.start()
    changed = client.get(f"/v1/jobs/{job['_id']}", params={"wait": 10, "since": first["version"]}).json()
    elapsed = time.monotonic() - started
    thread.join()
    assert changed["status"] == "running" and changed["stage"] == "llm"
    assert changed["version"] != first["version"]
    assert 0.45 <= elapsed < 2.0, elapsed  # woke on the event, far before the 10 s deadline
    # A client that is behind gets the current view at once, whatever it asks to wait.
    started = time.monotonic()
    assert (
        client.get(f"/v1/jobs/{job['_id']}", params={"wait": 10, "since": first["version"]}).json()["stage"]
        == "llm"
    )
    assert time.monotonic() - started < 1.0


def test_a_finished_job_answers_a_long_poll_at_once(
    client: TestClient, storage: Storage, events: EventLog
) -> None:
    job = queued_job(storage, events)
    failed = jobs.fail_job(storage, job["_id"], code=ErrorCode.llm_failed, message="x", stage=Stage.llm)
    assert failed is not None
    events.emit(EventType.job_failed, failed, error=failed["error"])
    view = client.get(f"/v1/jobs/{job['_id']}").json()
    started = time.monotonic()
    again = client.get(f"/v1/jobs/{job['_id']}", params={"wait": 10, "since": view["version"]})
    assert again.json()["status"] == "failed" and time.monotonic() - started < 1.0


class CountFinds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.finds: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("find", "count", "aggregate"):
            self.finds.append(f"{event.command_name} {event.command.get(event.command_name)}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def test_views_of_many_jobs_cost_one_segments_query(settings: Settings, events: EventLog) -> None:
    listener = CountFinds()
    from pymongo import MongoClient

    storage = Storage(
        settings, client=MongoClient(settings.mongo_url, tz_aware=True, event_listeners=[listener])
    )
    made = []
    for n in range(5):
        job = queued_job(storage, events, session_id="history")
        jobs.begin_llm_attempt(storage, job["_id"])
        for index in range(3):
            put_segment(
                storage,
                job_id=job["_id"],
                attempt=1,
                index=index,
                text=f"{n}.{index}",
                emotion="happy",
                motions=[],
            )
        made.append(jobs.get_job(storage, job["_id"]))
    listener.finds.clear()
    views = load_job_views(storage, settings, made)  # type: ignore[arg-type]
    assert listener.finds == ["find segments"]
    assert [[s.text for s in view.segments] for view in views] == [
        [f"{n}.{i}" for i in range(3)] for n in range(5)
    ]
    storage.close()


def test_polling_an_unchanged_job_reads_mongodb_once(
    client: TestClient, settings: Settings, storage: Storage, events: EventLog
) -> None:
    job = queued_job(storage, events)
    first = client.get(f"/v1/jobs/{job['_id']}")
    assert first.headers["etag"] == f'"{first.json()["version"]}"'
    storage.jobs.update_one({"_id": job["_id"]}, {"$set": {"input_text": "changed without an event"}})
    # The cached view stands until the next event: workers announce every change they make.
    assert client.get(f"/v1/jobs/{job['_id']}").json()["input_text"] == "hi"
    events.emit(EventType.stage_started, job, stage=Stage.llm)
    assert client.get(f"/v1/jobs/{job['_id']}").json()["input_text"] == "changed without an event"
