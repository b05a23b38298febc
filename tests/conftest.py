"""Shared fixtures: real Redis and MongoDB-protocol servers, and the whole stack for e2e tests."""

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from pipelines.context_store import ContextStore
from pipelines.events import EventLog
from pipelines.settings import Settings
from pipelines.stages.context import StageContext
from pipelines.storage import Storage
from tools.stack import Stack, free_port

# Test-sized models and limits; everything else is the product's default configuration.
TEST_ENV = {
    "VTUBER_STT_MODEL": "bundled:tiny.en",
    "VTUBER_LLM_MAX_TOKENS": "60",
    "VTUBER_LLM_THREADS": "2",
    "VTUBER_MONGO_DB": "vtuber_test",
}


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A real Redis and a real MongoDB-protocol server, shared by the integration tests."""
    stack = Stack(run_dir=tmp_path_factory.mktemp("servers"), pools=[], mongo_in_memory=True)
    stack.start_redis()
    stack.start_mongo()
    yield stack
    stack.stop_all()


@pytest.fixture
def settings(servers: Stack, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=servers.redis_url,
        mongo_url=servers.mongo_url,
        mongo_db=f"t_{os.urandom(4).hex()}",
        memory_store_uri=str(tmp_path / "memory"),  # each test's own long-term memory store
        model_cache_dir=Path(os.environ.get("VTUBER_MODEL_CACHE_DIR", Settings().model_cache_dir)),
    )


@pytest.fixture
def storage(settings: Settings) -> Iterator[Storage]:
    """The test's own database, indexed as the services index it, dropped afterwards."""
    store = Storage(settings)
    store.ensure_indexes()
    yield store
    store.client.drop_database(settings.mongo_db)
    store.close()


@pytest.fixture
def rclient(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the bundled Qwen 0.5B, on a loopback port."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install -e '.[llm]')")
    from workers.assets import llm_model_file

    model = llm_model_file("bundled:qwen2.5-0.5b")
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "qwen"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    command += ["--n_threads", str(os.cpu_count() or 2)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_ready(base_url, process, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"llama_cpp.server did not start in 120 s:\n{log.read_text()[-2000:]}")


class RecordingDispatcher:
    """Stands in for Celery in stage tests: records each next-stage send as (method, args); the
    segment work a tts or animation message carries (pipelines/segment_work.py) is kept apart."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []
        self.work: list[Any] = []

    def __getattr__(self, method: str) -> Callable[..., None]:
        def record(*args: Any, work: Any = None, **options: Any) -> None:
            self.sent.append((method, (*args, options) if options else args))
            self.work.append(work)

        return record

    def calls(self, method: str) -> list[tuple[Any, ...]]:
        return [args for name, args in self.sent if name == method]

    def clear(self) -> None:
        self.sent.clear()
        self.work.clear()

    def sends(self, method: str) -> list[tuple[tuple[Any, ...], Any]]:
        """(args, work) of each send of ``method``: replays a task as its message would run it."""
        return [
            (args, work) for (name, args), work in zip(self.sent, self.work, strict=True) if name == method
        ]


@pytest.fixture
def stage_context(settings: Settings) -> Iterator[StageContext]:
    """Real MongoDB and Redis behind a stage; the dispatcher only records."""
    storage = Storage(settings)
    storage.ensure_indexes()
    client = redis.Redis.from_url(settings.redis_url)
    yield StageContext(
        storage=storage,
        dispatcher=RecordingDispatcher(),  # type: ignore[arg-type]
        context=ContextStore(client, max_turns=4, ttl_s=60),
        settings=settings,
        events=EventLog(client, ttl_s=60),
    )
    storage.client.drop_database(settings.mongo_db)
    storage.close()
