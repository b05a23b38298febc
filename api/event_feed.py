"""Reading the progress event logs for clients: SSE streams, the session channel and the long-poll wait.

Every reader blocks in Redis (XREAD BLOCK) instead of polling MongoDB: an event reaches the client
the moment a worker appends it. A reader resumes after any entry id, so Last-Event-ID (SSE) or
``?after=`` (WebSocket) loses nothing and repeats nothing. The transports differ only in framing:
both take :class:`FeedEvent` from here.
"""

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from pipelines.events import (
    NO_VERSION,
    READ_BATCH,
    READ_SLICE_S,
    decode_id,
    job_stream,
    open_turns,
    session_stream,
)
from schemas.events import FINAL_EVENTS, EventType


@dataclass(frozen=True)
class FeedEvent:
    """One log entry: its id (the resume point), its event type and the JobEvent JSON."""

    id: str
    type: str
    data: str


async def last_entry_id(client: aioredis.Redis, key: str) -> str:
    """The newest entry's id: a job's version, or where a fresh session follower starts."""
    last: Any = await client.xrevrange(key, count=1)
    return decode_id(last[0][0]) if last else NO_VERSION


async def wait_for_change(client: aioredis.Redis, job_id: str, since: str, timeout_s: float) -> str | None:
    """Block until the job's log has an entry after ``since``; its newest id, or None at the deadline."""
    deadline = time.monotonic() + timeout_s
    while (remaining := deadline - time.monotonic()) > 0:
        block_ms = max(1, int(min(remaining, READ_SLICE_S) * 1000))
        found: Any = await client.xread({job_stream(job_id): since}, block=block_ms, count=READ_BATCH)
        if found:
            _, entries = found[0]
            return decode_id(entries[-1][0])
    return None


async def replay(client: aioredis.Redis, key: str, *, after: str) -> list[FeedEvent]:
    """What the log holds after ``after`` (exclusive), without waiting for more."""
    entries: Any = await client.xrange(key, min=f"({after}", max="+")
    return [to_event(entry_id, fields) for entry_id, fields in entries]


def to_event(entry_id: bytes | str, fields: dict[bytes, bytes]) -> FeedEvent:
    return FeedEvent(id=decode_id(entry_id), type=fields[b"type"].decode(), data=fields[b"data"].decode())


async def follow(
    client: aioredis.Redis, key: str, *, after: str, max_duration_s: float, stop_at_final: bool
) -> AsyncIterator[FeedEvent]:
    """What the log holds after ``after``, then live entries, until a final event or the deadline."""
    deadline = time.monotonic() + max_duration_s
    cursor = after
    while (remaining := deadline - time.monotonic()) > 0:
        block_ms = max(1, int(min(remaining, READ_SLICE_S) * 1000))
        found: Any = await client.xread({key: cursor}, block=block_ms, count=READ_BATCH)
        for _, entries in found or []:
            for entry_id, fields in entries:
                event = to_event(entry_id, fields)
                cursor = event.id
                yield event
                if stop_at_final and EventType(event.type) in FINAL_EVENTS:
                    return


def _millis(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


async def turns_in_progress(
    client: aioredis.Redis, session_id: str, *, max_turn_age_s: float
) -> tuple[list[FeedEvent], str]:
    """The events of the session's unfinished turns, each from its job.queued on, and the id after
    which the live log continues. Three round trips whatever the log's length:

    1. the open turns (pipelines/events.open_turns) and the log's newest id, read atomically, so a
       turn is open exactly when its start is in the log up to that id and its end is not;
    2. the first entry of each open turn's own log: where, at the earliest, it starts in the session's;
    3. the session's log from the oldest of those to the newest id, keeping the open turns' events.

    A turn older than ``max_turn_age_s`` counts as finished (its end was lost; the sweep fails such
    turns long before), so a stale mark cannot make every joiner replay an hour of log.
    """
    key = session_stream(session_id)
    async with client.pipeline(transaction=True) as pipe:
        pipe.hkeys(open_turns(session_id))
        pipe.xrevrange(key, count=1)
        open_jobs, newest = await pipe.execute()
    end = decode_id(newest[0][0]) if newest else NO_VERSION
    jobs = sorted(decode_id(job_id) for job_id in open_jobs)
    if not jobs or not newest:
        return [], end
    async with client.pipeline(transaction=False) as pipe:
        for job_id in jobs:
            pipe.xrange(job_stream(job_id), count=1)
        firsts = await pipe.execute()
    oldest_allowed = _millis(end) - int(max_turn_age_s * 1000)
    starts = {
        job_id: _millis(decode_id(first[0][0]))
        for job_id, first in zip(jobs, firsts, strict=True)
        if first and _millis(decode_id(first[0][0])) >= oldest_allowed
    }
    if not starts:
        return [], end
    # The job's entry is written just before the session's in one pipeline: same clock, so the
    # session's copy of job.queued lies at or after this millisecond.
    entries: Any = await client.xrange(key, min=f"{min(starts.values())}-0", max=end)
    events = [to_event(entry_id, fields) for entry_id, fields in entries]
    backlog = [event for event in events if _job_of(event) in starts]
    return backlog, end


def _job_of(event: FeedEvent) -> str | None:
    try:
        job_id = json.loads(event.data).get("job_id")
    except (ValueError, AttributeError):
        return None
    return job_id if isinstance(job_id, str) else None


async def session_feed(
    client: aioredis.Redis,
    session_id: str,
    *,
    after: str | None,
    max_duration_s: float,
    max_turn_age_s: float,
    start: tuple[list[FeedEvent], str] | None = None,
) -> AsyncGenerator[FeedEvent, None]:
    """A session's events after ``after``; with no resume point, the turns still in progress first
    (a late joiner hears the current reply from its start), then live, until the deadline.

    ``start``: ``turns_in_progress`` read before the client could see its stream open (the routes
    do that), so an event appended right after it connected is not missed.
    """
    if after is None:
        backlog, after = start or await turns_in_progress(client, session_id, max_turn_age_s=max_turn_age_s)
        for event in backlog:
            yield event
    async for event in follow(
        client, session_stream(session_id), after=after, max_duration_s=max_duration_s, stop_at_final=False
    ):
        yield event
