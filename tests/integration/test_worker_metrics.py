"""A real Celery worker with two pool processes serves one /metrics: the sum of both, from a
directory emptied when the worker starts again."""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from pipelines.celery_app import make_celery
from pipelines.dispatch import Dispatcher
from pipelines.settings import Settings
from pipelines.stt_routing import SttRouter
from pipelines.time_limits import TimeLimits
from tools.stack import Stack


@pytest.fixture
def dispatcher(servers: Stack) -> Iterator[Dispatcher]:
    settings = Settings(redis_url=servers.redis_url, mongo_url=servers.mongo_url)
    app = make_celery(settings)
    yield Dispatcher(app, SttRouter(redis.Redis.from_url(servers.redis_url)), TimeLimits(settings))
    app.close()


def sample_sum(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


def wait_for_count(port: int, expected: float) -> str:
    """Until the worker's /metrics counts ``expected`` animation runs (and their queue waits)."""
    deadline = time.monotonic() + 60
    text = ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.TransportError:
            text = ""
        runs = sample_sum(text, "vtuber_stage_duration_seconds_count", stage="animation", outcome="ok")
        waits = sample_sum(text, "vtuber_queue_wait_seconds_count", stage="animation")
        if runs == expected and waits == expected:
            return text
        assert runs <= expected, f"counted {runs} runs, only {expected} were sent"
        time.sleep(0.3)
    raise AssertionError(f"the worker's /metrics never counted {expected} animation runs:\n{text[-3000:]}")


def test_two_pool_processes_are_summed_and_a_restart_starts_from_zero(
    servers: Stack, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "VTUBER_MONGO_DB": "t_worker_metrics"}
    name = servers.start_worker("animation", concurrency=2, suffix="-metrics", extra_env=env)
    try:
        servers.wait_for_workers()
        # Jobs that do not exist: each task runs, finds nothing to animate and ends "ok".
        for index in range(8):
            dispatcher.animate(f"no-such-job-{index}", 1, index)
        text = wait_for_count(servers.metrics_ports[name][1], 8)
        assert "vtuber_stage_failures_total{" in text  # zero series for the outcomes not seen yet
        pids = {re.sub(r"^histogram_(\d+)\.db$", r"\1", p.name) for p in metrics_dir.glob("histogram_*.db")}
        assert pids, "no pool process wrote its values to the multiprocess directory"
        assert len(list(metrics_dir.glob("*.db"))) >= len(pids)
    finally:
        servers.stop(name)
    # Started again on the same directory: the earlier run's files are gone, counting starts at 0.
    again = servers.start_worker("animation", concurrency=2, suffix="-metrics2", extra_env=env)
    try:
        servers.wait_for_workers()
        for index in range(3):
            dispatcher.animate(f"no-such-job-again-{index}", 1, index)
        wait_for_count(servers.metrics_ports[again][1], 3)
    finally:
        servers.stop(again)
