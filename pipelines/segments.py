"""Reply segments: one document per (job, LLM attempt, index), written by upsert.

Keyed deterministically so a redelivered tts or animation task overwrites its own output instead
of adding a second copy. A new LLM attempt (after a worker died mid-reply) drops the older
attempt's segments; tasks still in flight for it find their segment gone and stop.
"""

from typing import Any

from pipelines.jobs import ACTIVE, utcnow
from pipelines.storage import Storage, name_object_id

SPEECH_FORMATS = ("wav", "ogg")  # the voice as stored, then its browser copy


def segment_id(job_id: str, attempt: int, index: int) -> str:
    return f"{job_id}:{attempt}:{index}"


def speech_file_name(job_id: str, attempt: int, index: int, fmt: str) -> str:
    """The segment's audio file name in GridFS; its id is derived from it (``replace_audio``)."""
    return f"tts/{job_id}/{attempt}/{index}.{fmt}"


def delete_segment_speech(storage: Storage, job_id: str, attempt: int, index: int) -> None:
    """Delete every stored format of one segment's audio, found by name (no lookup needed)."""
    for fmt in SPEECH_FORMATS:
        storage.delete_audio(str(name_object_id(speech_file_name(job_id, attempt, index, fmt))))


def put_segment(
    storage: Storage,
    *,
    job_id: str,
    attempt: int,
    index: int,
    text: str,
    emotion: str,
    motions: list[str],
    final: bool = False,
    previous_emotion: str | None = None,
) -> dict[str, Any]:
    """Store the segment's text (its audio and track come later); its text fields as stored.

    No read-back: this sits between the sentence closing and its synthesis being sent, and the
    caller only announces the text it just wrote.
    """
    text_fields = {
        "text": text,
        "emotion": emotion,
        "motions": motions,
        "final": final,
        # The segment before's emotion: expressions blend from it without another read.
        "previous_emotion": previous_emotion,
    }
    placement = {"job_id": job_id, "attempt": attempt, "index": index}
    storage.segments.update_one(
        {"_id": segment_id(job_id, attempt, index)},
        {"$set": text_fields, "$setOnInsert": {**placement, "ready": False, "created_at": utcnow()}},
        upsert=True,
    )
    return {"_id": segment_id(job_id, attempt, index), **placement, **text_fields}


def get_segment(storage: Storage, job_id: str, attempt: int, index: int) -> dict[str, Any] | None:
    return storage.segments.find_one({"_id": segment_id(job_id, attempt, index)})


def active_segment(
    storage: Storage, job_id: str, attempt: int, index: int
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The job and this segment, or None when the job has ended or a newer LLM attempt replaced it."""
    job = storage.jobs.find_one({"_id": job_id, "status": {"$in": ACTIVE}})
    segment = get_segment(storage, job_id, attempt, index) if job else None
    return (job, segment) if job and segment else None


def update_segment(storage: Storage, job_id: str, attempt: int, index: int, fields: dict[str, Any]) -> bool:
    """Set ``fields`` on the segment; False when it is gone (a newer attempt dropped it)."""
    result = storage.segments.update_one({"_id": segment_id(job_id, attempt, index)}, {"$set": fields})
    return result.matched_count == 1


def update_known_segment(
    storage: Storage, segment: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any] | None:
    """``update_segment`` for a segment the caller has just read: the result is merged here instead
    of read back (one round trip less on the first audio's path); None when it was dropped."""
    if not update_segment(storage, segment["job_id"], segment["attempt"], segment["index"], fields):
        return None
    merged = dict(segment)
    for key, value in fields.items():
        head, _, tail = key.partition(".")
        if tail:  # "timings.tts": one level of nesting is all the stages write
            merged[head] = {**(merged.get(head) or {}), tail: value}
        else:
            merged[key] = value
    return merged


def count_ready_segments(storage: Storage, job_id: str, attempt: int) -> int:
    """How many of the attempt's segments have their track stored."""
    return storage.segments.count_documents({"job_id": job_id, "attempt": attempt, "ready": True})


def list_segments(storage: Storage, job_id: str, attempt: int) -> list[dict[str, Any]]:
    return list(storage.segments.find({"job_id": job_id, "attempt": attempt}).sort("index", 1))


def drop_older_attempts(storage: Storage, job_id: str, attempt: int) -> int:
    """Delete segments (and their audio, browser copies included) left by earlier attempts of
    this job's LLM stage. A tts task of such an attempt still running cleans up after itself
    (stages/tts.py), so whichever finishes last, no file of a dropped attempt stays."""
    return _drop(storage, {"job_id": job_id, "attempt": {"$lt": attempt}})


def drop_attempt(storage: Storage, job_id: str, attempt: int) -> int:
    """Delete what a stale attempt wrote after a newer one had started (it stops on noticing)."""
    return _drop(storage, {"job_id": job_id, "attempt": attempt})


def _drop(storage: Storage, query: dict[str, Any]) -> int:
    stale = list(storage.segments.find(query))
    for segment in stale:
        if segment.get("audio_id"):
            storage.delete_audio(segment["audio_id"])
        delete_segment_speech(storage, segment["job_id"], int(segment["attempt"]), int(segment["index"]))
    if stale:
        storage.segments.delete_many({"_id": {"$in": [s["_id"] for s in stale]}})
    return len(stale)
