"""The session channel's serving loop with a feed the test controls: frames, pings, the end of the
connection's maximum duration, and a client that leaves closing the feed (the Redis reader) at once."""

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator

import pytest
import redis
from fastapi import FastAPI, WebSocket
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.errors import ApiError
from api.event_feed import FeedEvent
from api.main import create_app
from api.routes.session_channel import frame, resume_after, serve
from pipelines.api_keys import create_key
from pipelines.events import EventLog
from pipelines.settings import Settings
from pipelines.storage import Storage
from schemas.api_keys import Scope
from schemas.events import EventType

EVENTS = [
    FeedEvent(id="1-0", type="job.queued", data='{"type":"job.queued","job_id":"j"}'),
    FeedEvent(id="1-1", type="avatar.command", data='{"command":{"action":"reset"},"job_id":"c"}'),
]


class Feed:
    """A feed that sends ``EVENTS``, then waits ``hold_s`` (the live part) and ends (the deadline)."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self.closed = asyncio.Event()

    async def events(self) -> AsyncGenerator[FeedEvent, None]:
        try:
            for event in EVENTS:
                yield event
            await asyncio.sleep(self.hold_s)
        finally:
            self.closed.set()


def app_for(feed: Feed, ping_s: float) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws")
    async def channel(websocket: WebSocket) -> None:
        await websocket.accept()
        await serve(websocket, feed.events(), ping_s=ping_s)

    return app


def test_frames_carry_the_id_type_and_event_json_as_an_object() -> None:
    assert json.loads(frame(EVENTS[1])) == {
        "id": "1-1",
        "event": "avatar.command",
        "data": {"command": {"action": "reset"}, "job_id": "c"},
    }


def test_events_then_pings_then_a_normal_close_at_the_deadline() -> None:
    feed = Feed(hold_s=0.5)
    with TestClient(app_for(feed, ping_s=0.1)) as client, client.websocket_connect("/ws") as ws:
        assert [json.loads(ws.receive_text())["id"] for _ in EVENTS] == ["1-0", "1-1"]
        pings = 0
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                assert json.loads(ws.receive_text()) == {"event": "ping"}
                pings += 1
    assert pings >= 2
    assert closed.value.code == 1000  # the client reconnects with ?after=<its last id>
    assert feed.closed.is_set()


def test_a_client_that_leaves_closes_the_feed_long_before_its_deadline() -> None:
    feed = Feed(hold_s=3600)
    with TestClient(app_for(feed, ping_s=3600)) as client:
        with client.websocket_connect("/ws") as ws:
            ws.receive_text()
        # The server task saw the disconnect and cancelled the feed's reader: its finally ran.
        client.portal.call(lambda: asyncio.wait_for(feed.closed.wait(), 10))  # type: ignore[union-attr]
    assert feed.closed.is_set()


@pytest.mark.parametrize("value", ["x", "1-", "-1", "1-2-3", "DROP TABLE", "1" * 21 + "-0"])
def test_a_malformed_resume_id_is_refused_as_400(value: str) -> None:
    with pytest.raises(ApiError) as refused:
        resume_after(value)
    assert refused.value.status == 400


def test_an_absent_or_empty_resume_id_means_join_live() -> None:
    assert resume_after(None) is None and resume_after("") is None
    assert resume_after("0-0") == "0-0" and resume_after("1732855200000-3") == "1732855200000-3"


def test_an_event_appended_right_after_the_handshake_reaches_a_fresh_client(settings: Settings) -> None:
    """The feed's starting point is fixed before the socket opens: nothing falls in between."""
    storage = Storage(settings)
    _, secret = create_key(storage, name="channel", scopes=[Scope.client])
    log = EventLog(redis.Redis.from_url(settings.redis_url), ttl_s=60)
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        for _ in range(5):  # the gap, where it exists, is a few milliseconds: try it a few times
            session = client.post("/v1/sessions", json={}, headers=headers).json()["id"]
            with client.websocket_connect(f"/v1/sessions/{session}/ws?access_token={secret}") as ws:
                job_id = uuid.uuid4().hex
                log.emit(EventType.job_queued, {"_id": job_id, "session_id": session})
                # Told by its job, not its entry id: emit returns the job log's id, and the session
                # log's entry, written next in the same round trip, can fall in the next millisecond.
                assert json.loads(ws.receive_text())["data"]["job_id"] == job_id
    storage.close()
