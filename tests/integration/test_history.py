"""Paged history and the admin's feedback query against real MongoDB-protocol and Redis servers:
every turn exactly once across pages, a fixed number of queries per page whatever its size, and
each turn with what it was (transcript, reply, models, audio, feedback, interrupted)."""

from typing import Any

import redis
from fastapi.testclient import TestClient
from pymongo import MongoClient, monitoring

from api.main import create_app
from pipelines.api_keys import create_key
from pipelines.history import session_history
from pipelines.settings import Settings
from pipelines.storage import Storage
from schemas.api_keys import Scope
from tests.conversation_data import days_ago, new_session, rate, stored_turn

SENTENCES = (("happy", "Hi, welcome!"), ("surprised", "First time here?"), ("relaxed", "Stay a while."))


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def owned_key(storage: Storage, *scopes: Scope) -> tuple[str, dict[str, str]]:
    key, secret = create_key(storage, name="history", scopes=list(scopes))
    return key.id, {"Authorization": f"Bearer {secret}"}


def test_history_pages_hold_every_turn_once_at_a_fixed_cost(
    settings: Settings, storage: Storage, rclient: redis.Redis
) -> None:
    owner, headers = owned_key(storage, Scope.client)
    session = new_session(storage, owner)
    other = new_session(storage, owner)
    turns = []
    for n in range(60):
        kind = ("text", "audio", "speak")[n % 3]
        status = "interrupted" if n % 10 == 4 else "completed"
        # Three sentences in every other turn: a page of 50 holds 125 segments, over the 101
        # documents of MongoDB's default first batch.
        sentences = SENTENCES if n % 2 == 0 else SENTENCES[:2]
        turns.append(
            stored_turn(
                storage,
                rclient,
                session,
                owner=owner,
                text=f"line {n}",
                kind=kind,
                status=status,
                sentences=sentences,
                viewer_id="yt:mira",
                viewer_name="Mira",
            )
        )
    stored_turn(storage, rclient, other, owner=owner, text="elsewhere")
    for turn in turns[::7]:
        rate(storage, turn, 1, corrected="[happy] Better.")
    turns[10]["created_at"] = turns[11]["created_at"]  # a tie on created_at: the id decides the order
    storage.jobs.update_one({"_id": turns[10]["_id"]}, {"$set": {"created_at": turns[11]["created_at"]}})

    counter = CommandCounter()
    monitored = Storage(
        settings, client=MongoClient(settings.mongo_url, tz_aware=True, event_listeners=[counter])
    )
    costs = {}
    for limit in (1, 50):
        counter.commands.clear()
        page = session_history(monitored, settings, session, limit=limit, cursor=None)
        assert len(page.turns) == limit
        costs[limit] = list(counter.commands)
    assert costs[1] == costs[50] == ["find", "find", "find"], costs  # turns, segments, feedback
    monitored.close()

    seen: list[str] = []
    with TestClient(create_app(settings)) as api:
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            answer = api.get(f"/v1/sessions/{session}/history", params=params, headers=headers)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            seen += [turn["job_id"] for turn in body["turns"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        bad = api.get(f"/v1/sessions/{session}/history", params={"cursor": "not-ours"}, headers=headers)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
        too_many = api.get(f"/v1/sessions/{session}/history", params={"limit": 101}, headers=headers)
        assert too_many.status_code == 422
        _, stranger = owned_key(storage, Scope.client)
        assert api.get(f"/v1/sessions/{session}/history", headers=stranger).status_code == 404
        first = api.get(f"/v1/sessions/{session}/history", params={"limit": 100}, headers=headers).json()
    expected = sorted(turns, key=lambda t: (t["created_at"], t["_id"]), reverse=True)
    assert seen == [t["_id"] for t in expected]  # every turn exactly once, newest first
    by_id = {turn["job_id"]: turn for turn in first["turns"]}
    audio, interrupted, rated = by_id[turns[1]["_id"]], by_id[turns[4]["_id"]], by_id[turns[7]["_id"]]
    assert (audio["viewer_id"], audio["viewer_name"]) == ("yt:mira", "Mira")
    assert (
        audio["kind"] == "audio" and audio["user_text"] == "line 1" and audio["transcript_language"] == "en"
    )
    assert audio["input_audio_url"].startswith("/v1/audio/")
    assert audio["models"]["stt"] == {"backend": "faster_whisper", "model": "tiny.en"}
    assert audio["models"]["llm"]["backend"] == "local" and audio["models"]["tts"]["backend"] == "piper"
    assert audio["reply"] == "Hi, welcome! First time here?" and audio["emotion"] == "happy"
    assert [s["emotion"] for s in audio["segments"]] == ["happy", "surprised"]
    assert all(s["audio_url"].startswith("/v1/audio/") for s in audio["segments"])
    assert audio["persona_version"] == turns[1]["persona_version"] and not audio["interrupted"]
    assert interrupted["interrupted"] and interrupted["reply"] == "Hi, welcome!"  # what was heard
    assert [f["corrected_reply"] for f in rated["feedback"]] == ["[happy] Better."]
    assert by_id[turns[8]["_id"]]["feedback"] == []


def test_admins_query_feedback_by_persona_date_and_rating(
    settings: Settings, storage: Storage, rclient: redis.Redis
) -> None:
    owner, client_headers = owned_key(storage, Scope.client)
    _, admin = owned_key(storage, Scope.admin)
    session = new_session(storage, owner)
    turns = [stored_turn(storage, rclient, session, owner=owner, text=f"t{n}") for n in range(6)]
    rate(storage, turns[0], 1, at=days_ago(10))
    rate(storage, turns[1], -1, at=days_ago(5))
    rate(storage, turns[2], 0, at=days_ago(3))
    rate(storage, turns[3], 1, at=days_ago(1))
    rate(storage, turns[4], 1)
    with TestClient(create_app(settings)) as api:
        posted = api.post(f"/v1/jobs/{turns[5]['_id']}/feedback", json={"rating": -1}, headers=client_headers)
        assert posted.status_code == 201 and posted.json()["persona"] == "hana"

        def ids(**params: Any) -> list[str]:
            answer = api.get("/v1/feedback", params=params, headers=admin)
            assert answer.status_code == 200, answer.text
            return [f["job_id"] for f in answer.json()["feedback"]]

        assert ids(rating=1) == [turns[4]["_id"], turns[3]["_id"], turns[0]["_id"]]
        assert ids(min_rating=0) == [turns[4]["_id"], turns[3]["_id"], turns[2]["_id"], turns[0]["_id"]]
        window = {"since": days_ago(6).isoformat(), "until": days_ago(2).isoformat()}
        assert ids(**window) == [turns[2]["_id"], turns[1]["_id"]]
        assert ids(persona="hana", rating=-1) == [turns[5]["_id"], turns[1]["_id"]]
        assert ids(persona="nobody") == []
        paged, cursor = [], None
        while True:
            page = api.get(
                "/v1/feedback", params={"limit": 4, **({"cursor": cursor} if cursor else {})}, headers=admin
            )
            paged += [f["job_id"] for f in page.json()["feedback"]]
            if (cursor := page.json()["next_cursor"]) is None:
                break
        assert sorted(paged) == sorted(t["_id"] for t in turns)
        assert api.get("/v1/feedback", headers=client_headers).status_code == 403
        naive = api.get("/v1/feedback", params={"since": "2026-01-01T00:00:00"}, headers=admin)
        assert naive.status_code == 422


def test_the_history_index_replaces_the_one_it_made_redundant(storage: Storage) -> None:
    """A database indexed by an older release loses the prefix index every job write paid for."""
    storage.jobs.create_index([("session_id", 1), ("created_at", -1)])
    storage.ensure_indexes()
    indexes = storage.jobs.index_information()
    assert "session_id_1_created_at_-1" not in indexes
    assert "session_id_1_created_at_-1__id_-1" in indexes
    storage.ensure_indexes()  # idempotent
