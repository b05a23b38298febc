"""The session channel over WebSocket, for avatar clients (Unity, the OBS overlay) that stay connected.

``WS /v1/sessions/{id}/ws``: the same feed as the session's SSE stream (api/event_feed.session_feed),
one text frame per event, ``{"id": <entry id>, "event": <type>, "data": <JobEvent>}``, and
``{"event": "ping"}`` every ``sse_ping_s``. Resume with ``?after=<entry id>`` (exclusive); without it
the turns still in progress come first. A refusal is the HTTP status as a close code (4000 + status):
4401 no or invalid key, 4404 unknown or another key's session, 4400 a malformed ``after``. After
``sse_max_duration_s`` the server closes with 1000 and the client reconnects with its last id.

Each connection is served by the handler's own task, which waits for the client to leave, and a
task group of two (the feed's sender, the pinger) that is cancelled the moment it does.
"""

import json
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing

import anyio
from fastapi import APIRouter, WebSocket
from fastapi.concurrency import run_in_threadpool

from api.auth import authenticate, owned_or_404
from api.errors import ApiError
from api.event_feed import FeedEvent, session_feed, turns_in_progress
from api.ids import HEX_ID
from api.metrics import WS_CHANNELS
from api.state import ApiState
from api.websocket_close import CLOSE_ON_FAILURE, close_quietly
from pipelines.events import STREAM_ID
from schemas.errors import ErrorCode

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["events"])
PING_FRAME = '{"event": "ping"}'
CLOSE_AT_DEADLINE = 1000  # normal closure: reconnect with ?after=<the last id>


def frame(event: FeedEvent) -> str:
    """One event as a text frame; ``data`` is stored JSON already, embedded as is."""
    return f'{{"id": {json.dumps(event.id)}, "event": {json.dumps(event.type)}, "data": {event.data}}}'


def resume_after(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not STREAM_ID.match(value):
        raise ApiError(ErrorCode.validation_error, "after is not an event id from this stream", status=400)
    return value


async def admit(websocket: WebSocket, state: ApiState, session_id: str) -> str | None:
    """The key, the resume point and the session, judged in that order; the resume point."""
    caller = await authenticate(websocket)
    after = resume_after(websocket.query_params.get("after"))
    session = None
    if HEX_ID.fullmatch(session_id):
        session = await run_in_threadpool(state.sessions.get, state.storage, session_id)
    owned_or_404(caller, session, f"session {session_id}")
    return after


async def opening_point(
    websocket: WebSocket, state: ApiState, session_id: str
) -> tuple[list[FeedEvent], str] | None:
    """Where a fresh client's feed starts, fixed before its handshake completes, so an event
    appended once it sees the socket open (a command sent right after connecting) reaches it.
    None for a resuming client or an id that cannot be a session (admission refuses those)."""
    if websocket.query_params.get("after") or not HEX_ID.fullmatch(session_id):
        return None
    try:
        return await turns_in_progress(state.aredis, session_id, max_turn_age_s=state.settings.job_deadline_s)
    except Exception:  # Redis is down: admission or the feed reports it on the open socket
        return None


@router.websocket("/sessions/{session_id}/ws")
async def session_channel(websocket: WebSocket, session_id: str) -> None:
    """Every event of the session's turns, live (see the module docstring for the protocol)."""
    state: ApiState = websocket.app.state.api
    start = await opening_point(websocket, state, session_id)
    await websocket.accept()  # close codes can only be sent on an accepted socket
    try:
        after = await admit(websocket, state, session_id)
    except ApiError as refusal:
        await close_quietly(websocket, 4000 + refusal.status, refusal.message[:120])
        return
    except Exception:
        log.exception("session channel: could not admit a client")
        await close_quietly(websocket, CLOSE_ON_FAILURE, "the server could not open the channel")
        return
    feed = session_feed(
        state.aredis,
        session_id,
        after=after,
        max_duration_s=state.settings.sse_max_duration_s,
        max_turn_age_s=state.settings.job_deadline_s,
        start=start,
    )
    WS_CHANNELS.gauge.inc()
    try:
        await serve(websocket, feed, ping_s=state.settings.sse_ping_s)
    finally:
        WS_CHANNELS.gauge.dec()


async def serve(websocket: WebSocket, feed: AsyncGenerator[FeedEvent, None], *, ping_s: float) -> None:
    """Send the feed and pings until the feed ends or the client leaves, whichever comes first."""
    sending = anyio.Lock()  # one frame at a time from the two senders

    async def send(text: str) -> None:
        async with sending:
            await websocket.send_text(text)

    async with anyio.create_task_group() as tasks:

        async def send_feed() -> None:
            try:
                async with aclosing(feed) as events:
                    async for event in events:
                        await send(frame(event))
                await websocket.close(code=CLOSE_AT_DEADLINE, reason="maximum connection duration")
            except Exception as exc:  # the client went away mid-send, or Redis did
                log.debug("session channel: sender stopped: %r", exc)
                if websocket.client_state.name == "CONNECTED":
                    await close_quietly(websocket, CLOSE_ON_FAILURE)
            tasks.cancel_scope.cancel()

        async def send_pings() -> None:
            while True:
                await anyio.sleep(ping_s)
                try:
                    await send(PING_FRAME)
                except Exception:
                    tasks.cancel_scope.cancel()
                    return

        tasks.start_soon(send_feed)
        tasks.start_soon(send_pings)
        await until_disconnected(websocket)
        tasks.cancel_scope.cancel()


async def until_disconnected(websocket: WebSocket) -> None:
    """Clients send nothing we act on; reading is how the server learns that one has gone."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
