"""Session context and the STT routing switch on a real Redis server."""

from datetime import UTC, datetime

import redis

from pipelines.context_store import ContextStore
from pipelines.settings import Settings
from pipelines.stt_routing import SttMode, SttRouter
from schemas.session import ConversationTurn


def turn(n: int) -> ConversationTurn:
    return ConversationTurn(job_id=f"j{n}", user=f"u{n}", assistant=f"a{n}", at=datetime.now(UTC))


def test_context_keeps_last_turns_once_with_ttl(settings: Settings) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    store = ContextStore(client, max_turns=3, ttl_s=60)
    session = f"s-{datetime.now().timestamp()}"
    for n in range(5):
        assert store.append(session, turn(n))
    assert not store.append(session, turn(4))  # the same job twice is recorded once
    assert [t.job_id for t in store.recent(session)] == ["j2", "j3", "j4"]
    assert 0 < client.ttl(f"session:{session}:turns") <= 60


def test_stt_routing_modes_and_gpu_heartbeat(settings: Settings) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    client.delete("control:stt:mode")
    for key in client.scan_iter("control:stt:gpu-worker:*"):
        client.delete(key)
    router = SttRouter(client)
    assert router.mode() is SttMode.auto and not router.use_gpu()  # no GPU worker alive
    router.heartbeat("stt-gpu@box")
    assert router.gpu_workers() == ["stt-gpu@box"] and router.use_gpu()
    router.set_mode(SttMode.cpu)
    assert not router.use_gpu()
    router.set_mode(SttMode.gpu)
    assert SttRouter(client).use_gpu()  # another API replica sees the same switch
    client.delete("control:stt:mode")
    client.delete("control:stt:gpu-worker:stt-gpu@box")
