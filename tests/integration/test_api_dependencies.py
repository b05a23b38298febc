"""The API without a worker: clear errors for bad input and 503 when a dependency is down."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pipelines.settings import Settings
from tools.stack import free_port


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
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


def test_admin_token_guards_the_switch(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"admin_token": "t0ken"}))) as guarded:
        assert guarded.put("/v1/control/stt", json={"mode": "cpu"}).status_code == 401
        ok = guarded.put("/v1/control/stt", json={"mode": "auto"}, headers={"Authorization": "Bearer t0ken"})
        assert ok.status_code == 200


def test_database_down_gives_503_not_500(settings: Settings) -> None:
    dead = settings.model_copy(
        update={"mongo_url": f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300"}
    )
    with TestClient(create_app(dead)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["mongodb"].startswith("unavailable")
        response = client.post("/v1/sessions", json={})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "dependency_unavailable"
        assert "Traceback" not in response.text


def test_broker_down_fails_the_job_and_says_503(settings: Settings) -> None:
    dead_redis = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(dead_redis)) as client:
        session = client.post("/v1/sessions", json={}).json()["id"]
        response = client.post(f"/v1/sessions/{session}/utterances", json={"text": "hi"})
        assert response.status_code == 503 and response.json()["error"]["code"] == "dependency_unavailable"
