"""A real worker of one kind: it registers only its kind's tasks, maps no other kind's runtime,
and its heartbeat file (the compose and Kubernetes probe) stays fresh only while its consumer runs."""

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pipelines.celery_app import make_celery
from pipelines.queues import KIND_TASKS, WorkerKind
from pipelines.settings import PROJECT_ROOT, Settings
from tests.conftest import TEST_ENV
from tools.stack import Stack

HEALTHCHECK = PROJECT_ROOT / "workers" / "healthcheck.sh"
FOREIGN_LIBRARIES = ("onnxruntime", "libtorch", "ctranslate2", "piper")


def probe(heartbeat: Path, max_age: int) -> bool:
    env = {**os.environ, "VTUBER_WORKER_HEARTBEAT_FILE": str(heartbeat)}
    return (
        subprocess.run(["sh", str(HEALTHCHECK), str(max_age)], env=env, capture_output=True).returncode == 0
    )


def wait_for(check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


def test_llm_worker_registers_its_tasks_only_and_keeps_its_heartbeat(stack: Stack, tmp_path: Path) -> None:
    heartbeat = tmp_path / "worker-heartbeat"
    name = stack.start_worker(
        "llm", suffix="-liveness", extra_env={"VTUBER_WORKER_HEARTBEAT_FILE": str(heartbeat)}
    )
    process = stack.processes[name]
    client = make_celery(Settings(redis_url=stack.redis_url))
    try:
        stack.wait_for_workers()
        hostname = f"llm-liveness@{os.uname().nodename}"
        registered = client.control.inspect(destination=[hostname], timeout=10).registered() or {}
        assert sorted(registered[hostname]) == sorted(KIND_TASKS[WorkerKind.llm])
        maps = Path(f"/proc/{process.pid}/maps").read_text()
        assert [lib for lib in FOREIGN_LIBRARIES if lib in maps] == []

        wait_for(lambda: probe(heartbeat, 60), "the heartbeat file")
        os.kill(process.pid, signal.SIGSTOP)  # a hung consumer: nothing touches the file any more
        try:
            wait_for(lambda: not probe(heartbeat, 10), "the probe to fail on a stopped worker")
        finally:
            os.kill(process.pid, signal.SIGCONT)
        wait_for(lambda: probe(heartbeat, 10), "the probe to pass again once the worker runs")
    finally:
        client.close()
        stack.stop(name)


def test_the_heartbeat_goes_stale_while_the_broker_is_away_and_returns_with_it(tmp_path: Path) -> None:
    """A consumer that lost Redis stops its steps until it is back: the probe says so (on a Redis
    of this test's own, so the shared stack never loses its broker)."""
    heartbeat = tmp_path / "worker-heartbeat"
    own = Stack(run_dir=tmp_path / "stack", pools=[], env=dict(TEST_ENV))
    try:
        own.start_redis()
        own.start_worker("llm", extra_env={"VTUBER_WORKER_HEARTBEAT_FILE": str(heartbeat)})
        wait_for(lambda: probe(heartbeat, 10), "the heartbeat file")
        own.kill("redis")
        wait_for(lambda: not probe(heartbeat, 10), "the probe to fail while Redis is away")
        own.start_redis()  # the same port and data
        wait_for(lambda: probe(heartbeat, 10), "the probe to pass once Redis is back", timeout=180)
    finally:
        own.stop_all()
