"""The progress event logs in Redis Streams: one per job, one per session.

Workers append an event right after the MongoDB write it announces, so whoever reads entry ``V``
of a job's log finds MongoDB at least as new as ``V``: the last entry id is the job's version
(long-poll and the API's view cache rest on that). Streams are capped (MAXLEN) and expire.
"""

import re
import time
from collections.abc import Callable
from typing import Any

import redis

from pipelines.jobs import utcnow
from schemas.events import FINAL_EVENTS, EventType, JobEvent

NO_VERSION = "0-0"  # the version of a job whose log is gone (expired) or was never written
STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")  # what a client may send back as a version
# Every reader blocks in XREAD for at most this long at a time (under the clients' socket
# timeouts; it also bounds how late a reader notices its own deadline), this many entries a read.
READ_SLICE_S = 2.0
READ_BATCH = 100


def job_stream(job_id: str) -> str:
    return f"events:job:{job_id}"


def session_stream(session_id: str) -> str:
    return f"events:session:{session_id}"


def open_turns(session_id: str) -> str:
    """The session's turns between their job.queued and their end: a hash of job ids, so a client
    that joins mid-turn finds where the turns still playing began without scanning the whole log."""
    return f"events:session:{session_id}:open"


class EventLog:
    """Append-only, for workers and the API's submit path (reading is the API's, see api/event_feed)."""

    def __init__(
        self, client: redis.Redis, *, ttl_s: int, job_maxlen: int = 1000, session_maxlen: int = 5000
    ) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.job_maxlen = job_maxlen
        self.session_maxlen = session_maxlen

    def append(self, event: JobEvent) -> str:
        """Write the event to its job's and its session's log (a session-less job has only its own)
        in one round trip; the job entry id."""
        fields: dict[Any, Any] = {"type": event.type.value, "data": event.model_dump_json(exclude_none=True)}
        job_key = job_stream(event.job_id)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.xadd(job_key, fields, maxlen=self.job_maxlen, approximate=True)
            pipe.expire(job_key, self.ttl_s)
            if event.session_id is not None:
                session_key, open_key = session_stream(event.session_id), open_turns(event.session_id)
                # Opened before its job.queued entry and closed after its end entry: whoever reads the
                # log and the hash together never sees a turn's start without seeing it open.
                if event.type == EventType.job_queued:
                    pipe.hset(open_key, event.job_id, "1")
                    pipe.expire(open_key, self.ttl_s)
                pipe.xadd(session_key, fields, maxlen=self.session_maxlen, approximate=True)
                pipe.expire(session_key, self.ttl_s)
                if event.type in FINAL_EVENTS:
                    pipe.hdel(open_key, event.job_id)
            entry_id, *_ = pipe.execute()
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def emit(self, type_: EventType, job: dict[str, Any], **fields: Any) -> str:
        """Append an event about ``job`` (a stored job document, or any dict with _id and session_id)."""
        return self.append(
            JobEvent(type=type_, job_id=job["_id"], session_id=job["session_id"], at=utcnow(), **fields)
        )

    def wait_for(self, job_id: str, after: str, wanted: Callable[[JobEvent], bool], timeout_s: float) -> bool:
        """Block until an event after entry ``after`` of the job's log satisfies ``wanted`` (True),
        the job ends, or ``timeout_s`` passes (False)."""
        deadline = time.monotonic() + timeout_s
        cursor = after
        while (remaining := deadline - time.monotonic()) > 0:
            block_ms = max(1, int(min(remaining, READ_SLICE_S) * 1000))
            found: Any = self.client.xread({job_stream(job_id): cursor}, block=block_ms, count=READ_BATCH)
            for _, entries in found or []:
                for entry_id, fields in entries:
                    cursor = decode_id(entry_id)
                    event = JobEvent.model_validate_json(fields[b"data"])
                    if wanted(event):
                        return True
                    if event.type in FINAL_EVENTS:
                        return False
        return False


def decode_id(entry_id: bytes | str) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id
