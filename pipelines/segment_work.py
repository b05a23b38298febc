"""What a tts or animation task needs of its turn and segment, carried in the task message.

The sender has the job and the segment in hand (the LLM stage has just written the segment, the
tts stage has just stored its audio), so the next task gets them with its message instead of
reading both back from MongoDB (two queries per task, four tasks for a two-sentence reply).
Whether the turn is still on comes from Redis (pipelines/turn_state.py); the segment's own
updates stay fenced in MongoDB, so a superseded attempt still writes nothing.

Tasks sent without it (a verbatim line released, the sweep redispatching) read MongoDB as before.
"""

from typing import Any

import redis

from pipelines.segments import active_segment
from pipelines.storage import Storage
from pipelines.turn_state import has_ended

TURN_FIELDS = ("_id", "session_id", "persona", "owner", "kind", "created_at")
SegmentWork = dict[str, dict[str, Any]]


def segment_work(job: dict[str, Any], segment: dict[str, Any]) -> SegmentWork:
    """The message part: the turn's fields the stages use, and the segment as last written."""
    return {"turn": {key: job.get(key) for key in TURN_FIELDS}, "segment": dict(segment)}


def turn_and_segment(
    storage: Storage, client: redis.Redis, job_id: str, attempt: int, index: int, work: SegmentWork | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(turn, segment) to work on, or None when the turn has ended or the segment is gone."""
    if work is None:
        return active_segment(storage, job_id, attempt, index)
    if has_ended(client, job_id):
        return None
    return work["turn"], work["segment"]
