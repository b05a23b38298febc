"""Realtime transcription: ``WS /v1/sessions/{id}/listen``.

The client streams binary frames of 16 kHz mono s16le PCM (at most ``listen_max_frame_bytes`` each,
an even number of bytes), or with ``?encoding=opus`` one raw Opus packet per frame (WebCodecs'
``AudioEncoder``, any Opus rate, mono; decoded here: pipelines/opus_frames.py), and may end with the
text frame ``{"type": "end"}``. The server answers
with JSON text frames (schemas/listen.py): ``ready``, then per utterance ``speech_started``,
``partial`` about every 500 ms and ``final`` (its text was submitted as a turn: ``job_id``), and
``ended`` once the worker is done, after which it closes with 1000. ``?interrupt=true`` makes each
final cut off the session's unfinished reply first (barge-in).

Refusals are close codes with a reason: 4401 no or invalid key, 4404 unknown (or another key's)
session, 4422 a language the speech models cannot hear, 4429 rate limited; 1003 a text frame that is
not ``{"type": "end"}``, 1007 a binary frame with an odd byte count (or not an Opus packet), 4400 an
unknown ``encoding``, 1009 a frame too large (after
these three, speech in progress is dropped). A client that disconnects mid-utterance still has what was heard
transcribed and submitted as a turn. 1011: the server could not go on.

This handler only moves frames: an STT worker serves the listen (pipelines/listen_worker.py). While
the handler runs it watches the worker's lease and sends the listen again if the worker died.
"""

import logging

import anyio
from fastapi import APIRouter, WebSocket
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from api.auth import authenticate, owned_or_404
from api.errors import ApiError
from api.ids import HEX_ID
from api.state import ApiState
from api.websocket_close import CLOSE_ON_FAILURE, close_quietly
from pipelines.languages import hearing_refusal, live_stt_model
from pipelines.listen_streams import (
    END_BY_CLIENT,
    END_BY_DEADLINE,
    END_BY_DISCONNECT,
    END_BY_REFUSAL,
    ListenClientChannel,
    ListenMeta,
    dispatch_listen,
    new_listen_id,
)
from pipelines.opus_frames import NotOpus, OpusToPcm
from pipelines.personas import get_persona
from schemas.errors import ErrorCode
from schemas.listen import ListenControl, ListenReady

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["listen"])

CLOSE_ENDED = 1000
CLOSE_UNSUPPORTED = 1003  # a text frame that is not a control message
CLOSE_INVALID = 1007  # PCM with half a sample
CLOSE_TOO_BIG = 1009
CLOSE_BAD_QUERY = 4400
ENCODINGS = ("pcm_s16le", "opus")
WATCH_S = 1.0
MAX_DISPATCHES = 5  # a listen whose workers keep dying is given up
AFTER_CLIENT_S = 120.0  # how long a gone client's last utterance is still watched over


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


async def admit(websocket: WebSocket, state: ApiState, session_id: str) -> ListenMeta:
    """The key, the session and its language, judged in that order; what the worker needs."""
    caller = await authenticate(websocket)
    session = None
    if HEX_ID.fullmatch(session_id):
        session = await run_in_threadpool(state.sessions.get, state.storage, session_id)
    session = owned_or_404(caller, session, f"session {session_id}")
    persona = get_persona(session["persona"])
    if refusal := hearing_refusal(state.settings, persona):
        raise ApiError(ErrorCode.language_unsupported, refusal)
    await state.rate_limits.submit(caller.id)
    return ListenMeta(
        session_id=session_id,
        owner=caller.id,
        persona=session["persona"],
        persona_version=session["persona_version"],
        language=persona.language,
        model=live_stt_model(state.settings, persona.language) or state.settings.stt_model,
        interrupt=websocket.query_params.get("interrupt", "").lower() in ("1", "true", "yes"),
    )


@router.websocket("/sessions/{session_id}/listen")
async def listen(websocket: WebSocket, session_id: str) -> None:
    """Stream speech in, get partial and final transcripts back (see the module docstring)."""
    state: ApiState = websocket.app.state.api
    await websocket.accept()  # close codes can only be sent on an accepted socket
    encoding = websocket.query_params.get("encoding", "pcm_s16le")
    if encoding not in ENCODINGS:
        await close_quietly(websocket, CLOSE_BAD_QUERY, f"encoding must be one of {', '.join(ENCODINGS)}")
        return
    try:
        meta = await admit(websocket, state, session_id)
    except ApiError as refusal:
        await close_quietly(websocket, 4000 + refusal.status, refusal.message[:120])
        return
    except Exception:
        log.exception("listen: could not admit a client")
        await close_quietly(websocket, CLOSE_ON_FAILURE, "the server could not open the listen")
        return
    channel = ListenClientChannel(state.aredis, new_listen_id())
    try:
        await channel.open(meta)
        await dispatch(state, channel)
        await websocket.send_text(
            ListenReady(
                listen_id=channel.keys.listen_id, max_frame_bytes=state.settings.listen_max_frame_bytes
            ).model_dump_json()
        )
    except Exception:
        log.exception("listen: could not start")
        await close_quietly(websocket, CLOSE_ON_FAILURE, "the server could not start the listen")
        return
    await serve(websocket, state, channel, OpusToPcm() if encoding == "opus" else None)


async def dispatch(state: ApiState, channel: ListenClientChannel) -> None:
    await channel.count_dispatch()  # first: a claim of the earlier dispatch no longer matches
    limits = state.dispatcher.limits
    await run_in_threadpool(dispatch_listen, state.celery, state.router, limits, channel.keys.listen_id)


async def serve(
    websocket: WebSocket, state: ApiState, channel: ListenClientChannel, opus: OpusToPcm | None
) -> None:
    """Frames in, transcripts out, the worker watched, until the worker has ended the listen."""
    ended = anyio.Event()

    async with anyio.create_task_group() as tasks:

        async def give_up(reason: str) -> None:
            log.exception("listen %s: %s", channel.keys.listen_id, reason)
            await close_quietly(websocket, CLOSE_ON_FAILURE, reason)
            tasks.cancel_scope.cancel()

        async def relay() -> None:
            try:
                await relay_output(websocket, channel, ended)
            except Exception:  # Redis away
                await give_up("the transcripts could not be relayed")
            tasks.cancel_scope.cancel()  # ended: the receiver too, nothing more is read

        async def watch() -> None:
            try:
                await watch_worker(state, channel)
            except WorkerGone:
                await give_up("no STT worker could serve the listen")
            except Exception:
                await give_up("the listen could not be watched over")

        tasks.start_soon(relay)
        tasks.start_soon(watch)
        try:
            await receive_frames(websocket, channel, state.settings.listen_max_frame_bytes, opus)
        except Refused as refusal:
            await close_quietly(websocket, refusal.code, refusal.reason)
            await end_quietly(channel, END_BY_REFUSAL)
        except Exception as exc:
            log.warning("listen: receiving stopped: %r", exc)
            await end_quietly(channel, END_BY_DISCONNECT)
        with anyio.move_on_after(AFTER_CLIENT_S):
            await ended.wait()
        tasks.cancel_scope.cancel()


class WorkerGone(Exception):
    pass


async def relay_output(websocket: WebSocket, channel: ListenClientChannel, ended: anyio.Event) -> None:
    """Send the worker's frames until its last; a client that has gone is no longer sent to, but the
    output is still read to the end (the handler waits for it)."""
    after, connected = "0", True
    while not ended.is_set():
        for entry_id, frame in await channel.read_output(after, block_ms=5000):
            after = entry_id
            if connected:
                try:
                    await websocket.send_json(frame)
                except Exception:
                    connected = False
            if frame.get("type") == "ended":
                ended.set()
                if connected:
                    await close_quietly(websocket, CLOSE_ENDED, "listen ended")
                return


async def watch_worker(state: ApiState, channel: ListenClientChannel) -> None:
    """Keep the listen's keys alive, end it at its deadline, and send it again when its worker died."""
    deadline = anyio.current_time() + state.settings.listen_max_duration_s
    dispatches = 1
    while True:
        await anyio.sleep(WATCH_S)
        await channel.keep_alive()
        if anyio.current_time() > deadline:
            deadline = float("inf")
            await channel.end(END_BY_DEADLINE)
        if await channel.worker_lost():
            if dispatches >= MAX_DISPATCHES:
                raise WorkerGone
            dispatches += 1
            log.warning("listen %s: worker lost, sending it again", channel.keys.listen_id)
            await dispatch(state, channel)


async def end_quietly(channel: ListenClientChannel, reason: str) -> None:
    try:
        await channel.end(reason)
    except Exception as exc:  # Redis away: the worker sees the client key lapse instead
        log.warning("listen: could not mark the end: %r", exc)


async def receive_frames(
    websocket: WebSocket, channel: ListenClientChannel, max_bytes: int, opus: OpusToPcm | None = None
) -> None:
    """Append the client's PCM (decoded first when it sends Opus) until it ends the audio and then
    leaves, or leaves mid-stream."""
    finished = False
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            if not finished:
                await channel.end(END_BY_DISCONNECT)
            return
        if finished:
            continue  # after "end" the client only waits for the last frames
        data, text = message.get("bytes"), message.get("text")
        if data is not None:
            if len(data) > max_bytes:
                raise Refused(CLOSE_TOO_BIG, f"a frame may hold at most {max_bytes} bytes")
            if opus is not None:
                try:
                    data = opus.decode(data)
                except NotOpus as exc:
                    raise Refused(CLOSE_INVALID, "with encoding=opus each frame is one Opus packet") from exc
            elif len(data) % 2:
                raise Refused(CLOSE_INVALID, "16-bit PCM frames have an even number of bytes")
            if data:
                await channel.append(data)
        elif text is not None:
            try:
                ListenControl.model_validate_json(text)
            except ValidationError as exc:
                raise Refused(
                    CLOSE_UNSUPPORTED, 'text frames carry only {"type": "end"}; audio goes in binary frames'
                ) from exc
            await channel.end(END_BY_CLIENT)
            finished = True
