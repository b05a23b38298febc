"""The API without a worker: clear errors for bad input and 503 when a dependency is down."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pipelines.api_keys import create_key
from pipelines.settings import Settings
from pipelines.storage import Storage
from schemas.api_keys import Scope
from tools.stack import free_port


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """An admin key's client (the control switch needs it)."""
    storage = Storage(settings)
    _, secret = create_key(storage, name="test admin", scopes=[Scope.client, Scope.admin])
    storage.close()
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {secret}"}) as test_client:
        yield test_client


def test_sessions_and_404s(client: TestClient) -> None:
    created = client.post("/v1/sessions", json={"persona": "hana"})
    assert created.status_code == 201
    assert client.get(f"/v1/sessions/{created.json()['id']}").json()["persona"] == "hana"
    for path in (
        "/v1/sessions/nope",
        "/v1/jobs/nope",
        "/v1/audio/nope",
        "/v1/transcriptions/nope",
        "/nowhere",
    ):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", path


def test_control_switch_round_trip(client: TestClient) -> None:
    assert client.put("/v1/control/stt", json={"mode": "cpu"}).json()["routes_to"] == "cpu"
    assert client.get("/v1/control/stt").json()["mode"] == "cpu"
    bad = client.put("/v1/control/stt", json={"mode": "tpu"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    client.put("/v1/control/stt", json={"mode": "auto"})


def test_database_down_gives_503_not_500(settings: Settings) -> None:
    dead = settings.model_copy(
        update={"mongo_url": f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300"}
    )
    with TestClient(create_app(dead)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["mongodb"].startswith("unavailable")
        well_formed_key = f"vtk_{'0' * 16}_{'A' * 43}"  # checking it needs the database
        response = client.post(
            "/v1/sessions", json={}, headers={"Authorization": f"Bearer {well_formed_key}"}
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "dependency_unavailable"
        assert "Traceback" not in response.text


def test_broker_down_fails_the_job_and_says_503(settings: Settings, client: TestClient) -> None:
    dead_redis = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(dead_redis), headers=dict(client.headers)) as dead:
        session = dead.post("/v1/sessions", json={}).json()["id"]  # rate limits fail open
        response = dead.post(f"/v1/sessions/{session}/utterances", json={"text": "hi"})
        assert response.status_code == 503 and response.json()["error"]["code"] == "dependency_unavailable"


def test_stt_switch_decides_which_pool_gets_new_speech(client: TestClient, settings: Settings) -> None:
    import numpy as np
    import redis

    from pipelines.audio_codec import encode_audio
    from pipelines.stt_routing import SttRouter

    broker = redis.Redis.from_url(settings.redis_url)
    tone = np.sin(np.linspace(0, 2 * np.pi * 440, 16000)).astype(np.float32) * 0.3
    wav = encode_audio(tone, 16000, "wav")
    session = client.post("/v1/sessions", json={}).json()["id"]

    def depth(queue: str) -> int:
        return int(broker.llen(queue))

    def speak() -> None:
        accepted = client.post(
            f"/v1/sessions/{session}/utterances", files={"audio": ("a.wav", wav, "audio/wav")}
        )
        assert accepted.status_code == 202, accepted.text

    before = {q: depth(q) for q in ("stt.live.cpu", "stt.live.gpu", "stt.batch.gpu")}
    client.put("/v1/control/stt", json={"mode": "auto"})
    speak()  # no GPU worker alive: CPU pool
    assert depth("stt.live.cpu") == before["stt.live.cpu"] + 1
    SttRouter(broker).heartbeat("stt-gpu@test")
    speak()  # auto with a live GPU worker: GPU pool
    assert depth("stt.live.gpu") == before["stt.live.gpu"] + 1
    client.put("/v1/control/stt", json={"mode": "cpu"})
    speak()
    assert depth("stt.live.cpu") == before["stt.live.cpu"] + 2
    client.put("/v1/control/stt", json={"mode": "gpu"})
    batch = client.post("/v1/transcriptions", files=[("files", ("a.wav", wav, "audio/wav"))] * 2)
    assert batch.status_code == 202
    assert depth("stt.batch.gpu") == before["stt.batch.gpu"] + 2
    client.put("/v1/control/stt", json={"mode": "auto"})
    broker.delete("control:stt:gpu-worker:stt-gpu@test")
