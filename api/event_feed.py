"""Reading the progress event logs for clients: SSE streams and the long-poll wait.

Every reader blocks in Redis (XREAD BLOCK) instead of polling MongoDB: an event reaches the client
the moment a worker appends it. A reader resumes after any entry id, so Last-Event-ID loses
nothing and repeats nothing.
"""

import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from sse_starlette import ServerSentEvent

from pipelines.events import NO_VERSION, READ_BATCH, READ_SLICE_S, decode_id, job_stream
from schemas.events import FINAL_EVENTS, EventType


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


async def replay(client: aioredis.Redis, key: str, *, after: str) -> list[ServerSentEvent]:
    """What the log holds after ``after`` (exclusive), without waiting for more."""
    entries: Any = await client.xrange(key, min=f"({after}", max="+")
    return [to_event(entry_id, fields) for entry_id, fields in entries]


def to_event(entry_id: bytes | str, fields: dict[bytes, bytes]) -> ServerSentEvent:
    return ServerSentEvent(
        data=fields[b"data"].decode(), event=fields[b"type"].decode(), id=decode_id(entry_id)
    )


async def follow(
    client: aioredis.Redis, key: str, *, after: str, max_duration_s: float, stop_at_final: bool
) -> AsyncIterator[ServerSentEvent]:
    """What the log holds after ``after``, then live entries, until a final event or the deadline."""
    deadline = time.monotonic() + max_duration_s
    cursor = after
    while (remaining := deadline - time.monotonic()) > 0:
        block_ms = max(1, int(min(remaining, READ_SLICE_S) * 1000))
        found: Any = await client.xread({key: cursor}, block=block_ms, count=READ_BATCH)
        for _, entries in found or []:
            for entry_id, fields in entries:
                event = to_event(entry_id, fields)
                cursor = str(event.id)
                yield event
                if stop_at_final and EventType(str(event.event)) in FINAL_EVENTS:
                    return
