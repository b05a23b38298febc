"""Access against real MongoDB and Redis: keys and scopes, ownership on every kind of object,
rate limits and the jobs-in-flight cap, and the production start-up refusals."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.production import UnsafeProductionSettings
from pipelines.api_keys import create_key, list_keys, revoke_key, verify_key
from pipelines.jobs import create_job
from pipelines.settings import Settings
from pipelines.storage import Storage
from schemas.api_keys import Scope


@pytest.fixture
def storage(settings: Settings) -> Iterator[Storage]:
    store = Storage(settings)
    yield store
    store.close()


def bearer(storage: Storage, *scopes: Scope, development: bool = False) -> dict[str, str]:
    _, secret = create_key(storage, name="test", scopes=list(scopes), development=development)
    return {"Authorization": f"Bearer {secret}"}


def test_keys_are_stored_hashed_verified_and_revoked(storage: Storage) -> None:
    key, secret = create_key(storage, name="overlay", scopes=[Scope.client])
    assert secret.startswith("vtk_") and secret not in str(storage.api_keys.find_one({"_id": key.id}))
    assert verify_key(storage, secret) == key
    assert verify_key(storage, secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None  # wrong secret
    assert verify_key(storage, "vtk_nonsense") is None
    assert [info.name for info in list_keys(storage)] == ["overlay"]
    assert revoke_key(storage, key.id) and not revoke_key(storage, key.id)
    assert verify_key(storage, secret) is None


def test_missing_wrong_and_unscoped_keys_get_401_or_403(settings: Settings, storage: Storage) -> None:
    client_key = bearer(storage, Scope.client)
    with TestClient(create_app(settings)) as api:
        missing = api.post("/v1/sessions", json={})
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
        wrong = api.post("/v1/sessions", json={}, headers={"X-API-Key": "vtk_0_nope"})
        assert wrong.status_code == 401
        forbidden = api.put("/v1/control/stt", json={"mode": "cpu"}, headers=client_key)
        assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
        assert api.get("/v1/control/stt", headers=client_key).status_code == 403
        assert api.get("/v1/control/stt", headers=bearer(storage, Scope.admin)).status_code == 200
        assert api.get("/healthz").status_code == 200  # health stays open for probes


def test_a_key_reads_only_what_it_created(settings: Settings, storage: Storage) -> None:
    alice, bob, admin = (
        bearer(storage, Scope.client),
        bearer(storage, Scope.client),
        bearer(storage, Scope.admin),
    )
    with TestClient(create_app(settings)) as api:
        session = api.post("/v1/sessions", json={}, headers=alice).json()["id"]
        owner = storage.sessions.find_one({"_id": session})["owner"]  # type: ignore[index]
        job = create_job(
            storage, session_id=session, kind="text", persona="hana", persona_version="1", owner=owner
        )
        audio = storage.put_audio(
            b"RIFF", filename="a.wav", content_type="audio/wav", metadata={"owner": owner}
        )
        for path in (
            f"/v1/sessions/{session}",
            f"/v1/sessions/{session}/jobs",
            f"/v1/jobs/{job['_id']}",
            f"/v1/audio/{audio}",
        ):
            assert api.get(path, headers=alice).status_code == 200, path
            theirs = api.get(path, headers=bob)
            assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "not_found", path
            assert api.get(path, headers=admin).status_code == 200, path
        submit = api.post(f"/v1/sessions/{session}/utterances", json={"text": "hi"}, headers=bob)
        assert submit.status_code == 404
        feedback = api.post(f"/v1/jobs/{job['_id']}/feedback", json={"rating": 1}, headers=bob)
        assert feedback.status_code == 404
        # EventSource cannot send headers: the key may come as ?access_token= on the event stream.
        token = alice["Authorization"].removeprefix("Bearer ")
        assert api.get(f"/v1/sessions/{session}?access_token={token}").status_code == 200


def test_rate_limits_answer_429_with_retry_after(settings: Settings, storage: Storage) -> None:
    limited = settings.model_copy(update={"rate_limit": "5/minute", "submit_rate_limit": "2/minute"})
    key = bearer(storage, Scope.client)
    with TestClient(create_app(limited)) as api:
        session = api.post("/v1/sessions", json={}, headers=key).json()["id"]
        statuses = [api.get(f"/v1/sessions/{session}", headers=key).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 200, 429]  # the create counted too
        refused = api.get(f"/v1/sessions/{session}", headers=key)
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        other = bearer(storage, Scope.client)  # limits are per key
        assert api.post("/v1/sessions", json={}, headers=other).status_code == 201


def test_submissions_are_limited_per_key(settings: Settings, storage: Storage) -> None:
    limited = settings.model_copy(update={"submit_rate_limit": "2/minute"})
    key = bearer(storage, Scope.client)
    with TestClient(create_app(limited)) as api:
        session = api.post("/v1/sessions", json={}, headers=key).json()["id"]
        codes = [
            api.post(f"/v1/sessions/{session}/utterances", json={"text": "hi"}, headers=key).status_code
            for _ in range(3)
        ]
        assert codes == [202, 202, 429]


def test_jobs_in_flight_are_capped_per_key(settings: Settings, storage: Storage) -> None:
    capped = settings.model_copy(update={"max_jobs_in_flight": 2})
    key = bearer(storage, Scope.client)
    with TestClient(create_app(capped)) as api:  # no worker: submitted turns stay queued
        session = api.post("/v1/sessions", json={}, headers=key).json()["id"]
        codes = [
            api.post(f"/v1/sessions/{session}/utterances", json={"text": "hi"}, headers=key).status_code
            for _ in range(3)
        ]
        assert codes == [202, 202, 429]
        too_many = api.post(f"/v1/sessions/{session}/utterances", json={"text": "hi"}, headers=key)
        assert too_many.json()["error"]["code"] == "too_many_jobs"


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"open_access": True, "webhook_secret": "s"}, "OPEN_ACCESS"),
        ({"webhook_secret": ""}, "WEBHOOK_SECRET"),
    ],
)
def test_production_refuses_unsafe_settings(
    settings: Settings, changes: dict[str, object], needle: str
) -> None:
    production = settings.model_copy(update={"env": "production", **changes})
    with pytest.raises(UnsafeProductionSettings, match=needle), TestClient(create_app(production)):
        pass


def test_production_refuses_a_live_development_key(settings: Settings, storage: Storage) -> None:
    production = settings.model_copy(update={"env": "production", "webhook_secret": "s"})
    dev = bearer(storage, Scope.client, Scope.admin, development=True)
    with (
        pytest.raises(UnsafeProductionSettings, match="development API key"),
        TestClient(create_app(production)),
    ):
        pass
    revoke_key(storage, dev["Authorization"].split("_")[1])
    with TestClient(create_app(production)) as api:
        assert api.get("/healthz").status_code == 200
