"""Barge-in: the viewer cuts the avatar off. The turn ends ``interrupted`` and is remembered with
what the listener actually heard, so the next reply knows it was cut short.

The interrupting update is one conditional write like every other transition (only an unfinished
job can be interrupted; from then on every stage write is a no-op). A Redis flag tells the LLM
between two tokens that it can stop; tts and animation tasks still queued find the job finished
and return before doing any model work.
"""

from typing import Any

import redis

from pipelines.jobs import ACTIVE, JOB_INTERRUPTED_FOLLOWUPS, utcnow
from pipelines.metrics import record_turn_end
from pipelines.segments import list_segments
from pipelines.storage import Storage, update_and_read
from schemas.jobs import JobStatus, PlaybackPosition

CANCEL_FLAG_TTL_S = 3600


def cancel_flag(job_id: str) -> str:
    return f"job:{job_id}:cancelled"


def is_cancelled(client: redis.Redis, job_id: str) -> bool:
    return bool(client.exists(cancel_flag(job_id)))


def heard(segments: list[dict[str, Any]], played: PlaybackPosition | None) -> tuple[str, int]:
    """(text heard, segments heard). With a playback position: the segments before it and the
    words of its segment in proportion to the offset; without: every segment whose audio went out."""
    if played is None:
        delivered = [s for s in segments if s.get("audio_id")]
        return " ".join(s["text"] for s in delivered), len(delivered)
    parts = [s["text"] for s in segments if s["index"] < played.segment]
    current = next((s for s in segments if s["index"] == played.segment), None)
    if current is not None and current.get("duration_s"):
        words = current["text"].split()
        share = min(1.0, played.offset_s / float(current["duration_s"]))
        if kept := words[: round(len(words) * share)]:
            parts.append(" ".join(kept))
    return " ".join(parts), len(parts)


def interrupt_job(
    storage: Storage,
    client: redis.Redis,
    job: dict[str, Any],
    *,
    by: str,
    played: PlaybackPosition | None = None,
) -> dict[str, Any] | None:
    """Interrupt ``job`` (its document, as the caller read it) unless it has finished meanwhile;
    the job after it, or None."""
    job_id = job["_id"]
    if job["status"] not in ACTIVE:
        return None
    client.set(cancel_flag(job_id), b"1", ex=CANCEL_FLAG_TTL_S)  # first: the LLM stops spending tokens
    text, count = heard(list_segments(storage, job_id, int(job.get("llm_attempt") or 0)), played)
    now = utcnow()
    interrupted = update_and_read(
        storage.jobs,
        {"_id": job_id, "status": {"$in": ACTIVE}},
        {
            "$set": {
                "status": JobStatus.interrupted.value,
                "stage": None,
                "interruption": {"at": now, "by": by, "heard_text": text, "heard_segments": count},
                "followups": JOB_INTERRUPTED_FOLLOWUPS,
                "updated_at": now,
            }
        },
    )
    if interrupted is not None:
        record_turn_end(interrupted)
    return interrupted


def unfinished_jobs(storage: Storage, session_id: str) -> list[dict[str, Any]]:
    return list(storage.jobs.find({"session_id": session_id, "status": {"$in": ACTIVE}}))
