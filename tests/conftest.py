"""Shared fixtures: real Redis and MongoDB-protocol servers, and the whole stack for e2e tests."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.settings import Settings
from tools.stack import Stack

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
        model_cache_dir=Path(os.environ.get("VTUBER_MODEL_CACHE_DIR", Settings().model_cache_dir)),
    )
