"""Erasure and retention against real MongoDB-protocol and Redis servers: after a session or a
viewer is deleted, nothing of it is left in any collection, the GridFS bucket or Redis, while
everything else stays; the retention sweep deletes exactly what is past its period."""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from bson import ObjectId
from fastapi.testclient import TestClient

from api.main import create_app
from pipelines import erasure
from pipelines.api_keys import create_key
from pipelines.batches import create_batch
from pipelines.context_store import ContextStore
from pipelines.erasure import Erasure, ErasureContext
from pipelines.events import session_stream
from pipelines.interrupts import cancel_flag
from pipelines.jobs import utcnow
from pipelines.retention import sweep_retention
from pipelines.settings import Settings
from pipelines.storage import AUDIO_BUCKET, Storage
from schemas.api_keys import Scope
from schemas.batches import BatchOptions
from tests.conversation_data import days_ago, new_session, rate, stored_turn, wav_bytes


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The memory store's eraser runs too: on a store of this test's own."""
    return settings.model_copy(update={"memory_store_uri": str(tmp_path / "memory")})


@pytest.fixture
def memory_calls(monkeypatch: pytest.MonkeyPatch) -> list[Erasure]:
    """A data owner's eraser, registered beside the memory store's own."""
    calls: list[Erasure] = []

    def erase_memories(ctx: ErasureContext, what: Erasure) -> int:
        calls.append(what)
        return 2

    monkeypatch.setitem(erasure._ERASERS, "test_owner", erase_memories)
    return calls


def mongo_traces(storage: Storage, needles: set[str]) -> list[str]:
    """Every document in every collection (GridFS files and chunks included) mentioning a needle."""
    found = []
    for name in storage.db.list_collection_names():
        for doc in storage.db[name].find():
            text = repr(doc)
            found += [f"{name}: {needle}" for needle in needles if needle in text]
    return found


def redis_traces(client: redis.Redis, needles: set[str]) -> list[str]:
    """Every key named after a needle or holding one (lists, streams, hashes, strings)."""
    found = []
    for raw in client.scan_iter(count=1000):
        key = raw.decode()
        kind = client.type(raw)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "list":
            content = repr(client.lrange(raw, 0, -1))
        elif kind == "stream":
            content = repr(client.xrange(raw))
        elif kind == "hash":
            content = repr(client.hgetall(raw))
        elif kind == "string":
            content = repr(client.get(raw))
        else:
            content = ""
        found += [f"{key}: {needle}" for needle in needles if needle in key or needle in content]
    return found


def audio_ids_of(storage: Storage, jobs: list[dict[str, Any]]) -> set[Any]:
    """The turns' files in GridFS: the viewer's recording and every voice file."""
    recordings = [ObjectId(job["input_audio_id"]) for job in jobs if job.get("input_audio_id")]
    query = {
        "$or": [{"metadata.job_id": {"$in": [job["_id"] for job in jobs]}}, {"_id": {"$in": recordings}}]
    }
    return {doc["_id"] for doc in storage.db[f"{AUDIO_BUCKET}.files"].find(query)}


def test_deleting_a_session_leaves_nothing_of_it(
    settings: Settings, storage: Storage, rclient: redis.Redis, memory_calls: list[Erasure]
) -> None:
    key, secret = create_key(storage, name="owner", scopes=[Scope.client])
    headers = {"Authorization": f"Bearer {secret}"}
    doomed, kept = new_session(storage, key.id), new_session(storage, key.id)
    gone = [
        stored_turn(storage, rclient, doomed, owner=key.id, text="my secret line one", kind="audio"),
        stored_turn(storage, rclient, doomed, owner=key.id, text="my secret line two", viewer_id="v-doomed"),
        stored_turn(storage, rclient, doomed, owner=key.id, text="still running", status="running"),
    ]
    rate(storage, gone[0], 1, corrected="[happy] better")
    stays = stored_turn(storage, rclient, kept, owner=key.id, text="another session", kind="audio")
    rate(storage, stays, 1)
    files = audio_ids_of(storage, gone)
    assert len(files) == 1 + 3 * 4  # the recording, and a wav and an ogg per segment of each turn
    needles = {doomed, *(job["_id"] for job in gone), "my secret line", "still running"}
    assert mongo_traces(storage, needles) and redis_traces(rclient, needles)  # the checks can see it

    with TestClient(create_app(settings)) as api:
        _, other = create_key(storage, name="stranger", scopes=[Scope.client])
        stranger = api.delete(f"/v1/sessions/{doomed}", headers={"Authorization": f"Bearer {other}"})
        assert stranger.status_code == 404
        assert api.get(f"/v1/sessions/{doomed}/history", headers=headers).status_code == 200
        answer = api.delete(f"/v1/sessions/{doomed}", headers=headers)
        assert answer.status_code == 200, answer.text
        assert api.get(f"/v1/sessions/{doomed}", headers=headers).status_code == 404
        assert api.get(f"/v1/sessions/{doomed}/history", headers=headers).status_code == 404
        assert api.delete(f"/v1/sessions/{doomed}", headers=headers).status_code == 404
        assert len(api.get(f"/v1/sessions/{kept}/history", headers=headers).json()["turns"]) == 1
    deleted = answer.json()["deleted"]
    assert deleted["turns"] == 3 and deleted["sessions"] == 1 and deleted["feedback"] == 1
    assert deleted["audio_files"] == len(files) and deleted["test_owner"] == 2
    assert mongo_traces(storage, needles) == []
    chunks = storage.db[f"{AUDIO_BUCKET}.chunks"]
    assert chunks.count_documents({"files_id": {"$in": list(files)}}) == 0
    # The running turn's stop flag stays until it expires (it holds nothing but "stop").
    running = cancel_flag(gone[2]["_id"])
    assert rclient.get(running) == b"1" and 0 < rclient.ttl(running) <= 3600
    assert [t for t in redis_traces(rclient, needles) if not t.startswith(running)] == []
    assert [(c.session_ids, set(c.job_ids)) for c in memory_calls] == [((doomed,), {j["_id"] for j in gone})]
    # The other session is whole.
    assert (
        storage.jobs.count_documents({"session_id": kept}) == 1 and storage.feedback.count_documents({}) == 1
    )
    assert len(audio_ids_of(storage, [stays])) == 1 + 2 * 2
    assert [t.job_id for t in ContextStore(rclient, max_turns=9, ttl_s=60).recent(kept)] == [stays["_id"]]


def test_deleting_a_viewer_removes_them_everywhere_and_keeps_the_others(
    settings: Settings, storage: Storage, rclient: redis.Redis, memory_calls: list[Erasure]
) -> None:
    client, client_key = create_key(storage, name="client", scopes=[Scope.client])
    _, admin = create_key(storage, name="admin", scopes=[Scope.admin])
    shared, theirs = new_session(storage, client.id), new_session(storage, client.id)
    viewer = "twitch:4242"
    mine = [
        stored_turn(
            storage,
            rclient,
            shared,
            owner=client.id,
            viewer_id=viewer,
            text="I am Mira and my cat is Tofu",
            kind="audio",
        ),
        stored_turn(
            storage, rclient, theirs, owner=client.id, viewer_id=viewer, text="Mira again, I love Celeste"
        ),
    ]
    others = [
        stored_turn(storage, rclient, shared, owner=client.id, viewer_id="twitch:1", text=f"someone else {n}")
        for n in range(2)
    ]
    # Another key's viewer of the same id is another person (another streamer's chat).
    elsewhere = new_session(storage, "key-other")
    namesake = stored_turn(storage, rclient, elsewhere, owner="key-other", viewer_id=viewer, text="I am Noor")
    rate(storage, mine[1], -1)
    rate(storage, others[0], 1)
    needles = {"Mira", *(job["_id"] for job in mine)}
    assert mongo_traces(storage, needles) and redis_traces(rclient, needles)
    as_client = {"Authorization": f"Bearer {client_key}"}
    with TestClient(create_app(settings)) as api:
        refused = api.delete(f"/v1/viewers/{viewer}", params={"owner": "key-other"}, headers=as_client)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        bad = api.delete("/v1/viewers/not a viewer!", headers={"Authorization": f"Bearer {admin}"})
        assert bad.status_code == 422
        answer = api.delete(f"/v1/viewers/{viewer}", headers=as_client)  # the key's own viewer
    assert answer.status_code == 200, answer.text
    assert answer.json()["deleted"]["turns"] == 2 and answer.json()["deleted"]["context_turns"] == 2
    assert mongo_traces(storage, needles) == []
    assert redis_traces(rclient, needles) == []
    assert [(c.viewer_id, c.owner) for c in memory_calls] == [(viewer, client.id)]
    # The sessions stay, with the other viewer's turns, context, events, feedback and audio.
    assert storage.sessions.count_documents({"_id": {"$in": [shared, theirs]}}) == 2
    assert {j["_id"] for j in storage.jobs.find({})} == {j["_id"] for j in [*others, namesake]}
    context = ContextStore(rclient, max_turns=9, ttl_s=60).recent(shared)
    assert [t.job_id for t in context] == [j["_id"] for j in others]
    events: Any = rclient.xrange(session_stream(shared))
    kept = {others[0]["_id"], others[1]["_id"]}
    assert events and all(json.loads(fields[b"data"])["job_id"] in kept for _, fields in events)
    assert storage.feedback.count_documents({}) == 1 and len(audio_ids_of(storage, others)) == 2 * 2 * 2
    # An admin erases another key's viewer by naming the key.
    with TestClient(create_app(settings)) as api:
        named = api.delete(
            f"/v1/viewers/{viewer}",
            params={"owner": "key-other"},
            headers={"Authorization": f"Bearer {admin}"},
        )
    assert named.status_code == 200 and named.json()["deleted"]["turns"] == 1, named.text
    assert storage.jobs.count_documents({"_id": namesake["_id"]}) == 0
    assert [(c.viewer_id, c.owner) for c in memory_calls[1:]] == [(viewer, "key-other")]


def test_retention_sweep_deletes_what_is_past_its_period(
    settings: Settings, storage: Storage, rclient: redis.Redis, memory_calls: list[Erasure]
) -> None:
    session = new_session(storage, None)
    old = stored_turn(storage, rclient, session, text="forty days ago", kind="audio", created_at=days_ago(40))
    rate(storage, old, 1)
    middle = stored_turn(
        storage, rclient, session, text="ten days ago", kind="audio", created_at=days_ago(10)
    )
    recent = stored_turn(storage, rclient, session, text="yesterday", kind="audio", created_at=days_ago(1))
    running = stored_turn(storage, rclient, session, text="stuck", status="running", created_at=days_ago(40))
    files = storage.db[f"{AUDIO_BUCKET}.files"]
    for turn, age in ((old, 40), (middle, 10), (recent, 1), (running, 40)):  # stored when they happened
        files.update_many(
            {"_id": {"$in": list(audio_ids_of(storage, [turn]))}}, {"$set": {"uploadDate": days_ago(age)}}
        )
    upload = storage.put_audio(
        wav_bytes(), filename="b.wav", content_type="audio/wav", metadata={"format": "wav"}
    )
    batch = create_batch(storage, options=BatchOptions(), files=[("b.wav", upload, 0.25)], callback_url=None)
    storage.batches.update_one(
        {"_id": batch["_id"]}, {"$set": {"status": "completed", "created_at": days_ago(40)}}
    )

    keep_all = sweep_retention(ErasureContext(storage, rclient, settings))
    assert keep_all == {} and memory_calls == []  # 0 days: kept forever
    policy = settings.model_copy(
        update={"retention_transcripts_days": 30, "retention_audio_days": 7, "retention_memories_days": 90}
    )
    now = utcnow()
    deleted = sweep_retention(ErasureContext(storage, rclient, policy), now=now)
    assert deleted["turns"] == 1 and deleted["batches"] == 1 and deleted["batch_files"] == 1
    assert deleted["test_owner"] == 2 and memory_calls[0].memories_before == now - timedelta(days=90)
    assert {j["_id"] for j in storage.jobs.find({})} == {middle["_id"], recent["_id"], running["_id"]}
    assert mongo_traces(storage, {old["_id"], "forty days ago"}) == []
    assert audio_ids_of(storage, [middle]) == set() and audio_ids_of(storage, [running]) == set()
    assert len(audio_ids_of(storage, [recent])) == 1 + 2 * 2  # within every period
    assert storage.jobs.find_one({"_id": middle["_id"]})["transcript"]["text"] == "ten days ago"  # type: ignore[index]
    again = sweep_retention(ErasureContext(storage, rclient, policy), now=now)
    assert again == {"test_owner": 2}  # nothing more of ours: only the other owner's count
