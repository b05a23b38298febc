"""Live progress as server-sent events: one stream per job (ends with the job), one per session
(the same feed as the session's WebSocket, api/routes/session_channel.py)."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.auth import CallerKey, owned_or_404
from api.deps import State
from api.errors import ApiError
from api.event_feed import FeedEvent, follow, replay, session_feed, turns_in_progress
from api.metrics import SSE_STREAMS
from pipelines.events import NO_VERSION, STREAM_ID, job_stream
from pipelines.jobs import FINISHED, get_job, utcnow
from schemas.errors import ErrorCode
from schemas.events import EventType, JobEvent

router = APIRouter(prefix="/v1", tags=["events"])
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]
SSE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events (schemas/events.py)."}
}


def resume_point(last_event_id: str | None) -> str:
    if last_event_id is None or last_event_id == "":
        return NO_VERSION
    if not STREAM_ID.match(last_event_id):
        raise ApiError(ErrorCode.validation_error, "Last-Event-ID is not an event id from this stream")
    return last_event_id


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse, responses=SSE_RESPONSES)
async def job_events(
    job_id: str, caller: CallerKey, state: State, last_event_id: LastEventId = None
) -> Response:
    """The job's events from the start (or after ``Last-Event-ID``), live, until it completes or fails."""
    after = resume_point(last_event_id)
    job = owned_or_404(caller, await run_in_threadpool(get_job, state.storage, job_id), f"job {job_id}")
    key = job_stream(job_id)
    if job["status"] in FINISHED:  # nothing more will come: no waiting
        if not await state.aredis.exists(key):
            return EventSourceResponse(_expired_log_ending(job), ping=state.settings.sse_ping_s)
        past = await replay(state.aredis, key, after=after)
        if not past:  # a client resuming after the end: 204 tells EventSource not to reconnect
            return Response(status_code=204)
        return EventSourceResponse(_each(past), ping=state.settings.sse_ping_s)
    events = follow(
        state.aredis, key, after=after, max_duration_s=state.settings.sse_max_duration_s, stop_at_final=True
    )
    return EventSourceResponse(SSE_STREAMS.track(as_sse(events)), ping=state.settings.sse_ping_s)


@router.get("/sessions/{session_id}/events", response_class=EventSourceResponse, responses=SSE_RESPONSES)
async def session_events(
    session_id: str, caller: CallerKey, state: State, last_event_id: LastEventId = None
) -> EventSourceResponse:
    """Every event of the session's turns, live, until the connection's maximum duration. Without
    ``Last-Event-ID`` the turns still in progress come first, from their ``job.queued`` on."""
    after = resume_point(last_event_id) if last_event_id else None
    session = await run_in_threadpool(state.sessions.get, state.storage, session_id)
    owned_or_404(caller, session, f"session {session_id}")
    max_turn_age_s = state.settings.job_deadline_s
    start = None  # read before the response opens: what is appended once the client sees it is live
    if after is None:
        start = await turns_in_progress(state.aredis, session_id, max_turn_age_s=max_turn_age_s)
    events = session_feed(
        state.aredis,
        session_id,
        after=after,
        max_duration_s=state.settings.sse_max_duration_s,
        max_turn_age_s=max_turn_age_s,
        start=start,
    )
    return EventSourceResponse(SSE_STREAMS.track(as_sse(events)), ping=state.settings.sse_ping_s)


async def as_sse(events: AsyncIterator[FeedEvent]) -> AsyncIterator[ServerSentEvent]:
    async for event in events:
        yield ServerSentEvent(data=event.data, event=event.type, id=event.id)


async def _each(events: list[FeedEvent]) -> AsyncIterator[ServerSentEvent]:
    for event in events:
        yield ServerSentEvent(data=event.data, event=event.type, id=event.id)


async def _expired_log_ending(job: dict[str, Any]) -> AsyncIterator[ServerSentEvent]:
    """A finished job whose log has expired: just its ending, rebuilt from the stored job."""
    failed = job["status"] == "failed"
    event = JobEvent(
        type=EventType.job_failed if failed else EventType.job_completed,
        job_id=str(job["_id"]),
        session_id=job.get("session_id"),  # None for a session-less animation job
        at=utcnow(),
        reply=None if failed else job.get("reply"),
        segments_total=job.get("segments_total"),
        error=job.get("error") if failed else None,
    )
    yield ServerSentEvent(data=event.model_dump_json(exclude_none=True), event=event.type.value)
