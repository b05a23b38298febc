"""The memory queue served by a real Celery worker of kind memory: a finished turn's distillation
stores its viewer's facts once, however often the message is delivered, and leaves no more rows
outside the store's index than VTUBER_MEMORY_OPTIMIZE_AFTER_ROWS."""

import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from pipelines.celery_app import make_celery
from pipelines.dispatch import Dispatcher
from pipelines.memory_store import MemoryStore
from pipelines.settings import Settings
from pipelines.stages.context import StageContext
from pipelines.stt_routing import SttRouter
from pipelines.time_limits import TimeLimits
from tests.integration.test_memory import ALICE_SAYS, OWNER, finished_turn, remembered
from tests.integration.test_worker_metrics import sample_sum
from tools.stack import Stack


@pytest.fixture
def sender(servers: Stack, settings: Settings) -> Iterator[Dispatcher]:
    app = make_celery(settings)
    yield Dispatcher(app, SttRouter(redis.Redis.from_url(servers.redis_url)), TimeLimits(settings))
    app.close()


def wait_for_runs(port: int, expected: float) -> None:
    """Until the worker's /metrics counts ``expected`` finished distillations (the model loads first)."""
    deadline = time.monotonic() + 240
    text = ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.TransportError:
            text = ""
        runs = sample_sum(text, "vtuber_stage_duration_seconds_count", stage="memory", outcome="ok")
        if runs >= expected:
            assert runs == expected, f"{runs} runs counted, {expected} sent"
            return
        time.sleep(0.5)
    raise AssertionError(f"the memory worker never counted {expected} runs:\n{text[-2000:]}")


def test_the_memory_worker_distils_a_turn_once_however_often_it_is_delivered(
    servers: Stack, sender: Dispatcher, stage_context: StageContext
) -> None:
    settings = stage_context.settings
    job_id = finished_turn(stage_context, "stream-1", "alice", ALICE_SAYS)
    env = {
        "VTUBER_MONGO_DB": settings.mongo_db,
        "VTUBER_MEMORY_STORE_URI": settings.memory_store_uri,
        "VTUBER_MEMORY_OPTIMIZE_AFTER_ROWS": "0",  # every write is followed by an optimize
    }
    name = servers.start_worker("memory", suffix="-test", extra_env=env)
    try:
        servers.wait_for_workers()
        sender.distill_memories(job_id)
        wait_for_runs(servers.metrics_ports[name][1], 1)
        sender.distill_memories(job_id)  # the same message delivered again
        wait_for_runs(servers.metrics_ports[name][1], 2)
    finally:
        servers.stop(name)
    store = MemoryStore(settings.memory_store_uri, dimensions=384, read_consistency_s=0)
    assert store.count(owner=OWNER, viewer_id="alice") == 4  # 3 facts and the session's summary, once
    expected = {
        "Their name is Alice.",
        "They have a dog named Biscuit.",
        "Their favourite game is Hollow Knight.",
    }
    assert expected <= set(remembered(store, "alice"))
    assert store.unindexed_rows() == 0  # the worker brought its new rows into the index
