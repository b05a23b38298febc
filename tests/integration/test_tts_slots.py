"""The per-server semaphore on a real Redis: a bounded number of leases that expire on their own."""

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from pipelines.settings import Settings
from pipelines.tts_slots import ServerSlots


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(settings.redis_url)
    yield connection
    connection.close()


def slots(client: redis.Redis, limit: int) -> ServerSlots:
    return ServerSlots(client, f"http://gpt-sovits-{uuid.uuid4().hex}:9880", limit)


def test_at_most_limit_leases_at_once(client: redis.Redis) -> None:
    server = slots(client, limit=2)
    first, second = server.acquire(30, 0), server.acquire(30, 0)
    assert first is not None and second is not None
    assert server.acquire(30, 0) is None and server.holders() == 2
    first.release()
    third = server.acquire(30, 0)
    assert third is not None and server.holders() == 2


def test_a_dead_holders_lease_frees_itself(client: redis.Redis) -> None:
    server = slots(client, limit=1)
    assert server.acquire(lease_s=0.3, wait_s=0) is not None  # never released: its worker died
    assert server.acquire(lease_s=5, wait_s=0) is None
    waited = server.acquire(lease_s=5, wait_s=10)
    assert waited is not None, "the expired lease was never freed"


def test_hold_for_keeps_or_shortens_a_lease_and_fails_once_it_is_lost(client: redis.Redis) -> None:
    server = slots(client, limit=1)
    lease = server.acquire(lease_s=0.3, wait_s=0)
    assert lease is not None and lease.hold_for(30)
    time.sleep(0.5)
    assert server.holders() == 1  # kept past its first expiry
    assert lease.hold_for(0.2)
    other = server.acquire(lease_s=5, wait_s=10)
    assert other is not None and lease.hold_for(30) is False  # expired and taken: no resurrection
    assert server.holders() == 1


def test_waiters_take_turns_and_never_overlap(client: redis.Redis) -> None:
    server_name = f"http://gpt-sovits-{uuid.uuid4().hex}:9880"
    inside = 0
    most = 0
    done = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal inside, most, done
        mine = ServerSlots(redis.Redis.from_url(_url(client)), server_name, 1)  # its own connection
        for _ in range(3):
            lease = mine.acquire(lease_s=10, wait_s=30)
            assert lease is not None
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1
            lease.release()
        with lock:
            done += 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert done == 4 and most == 1


def test_the_key_expires_with_its_last_lease(client: redis.Redis) -> None:
    server = slots(client, limit=1)
    assert server.acquire(lease_s=0.2, wait_s=0) is not None
    ttl_ms = int(client.pttl(server.key))
    assert 0 < ttl_ms <= 1200


def _url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"
