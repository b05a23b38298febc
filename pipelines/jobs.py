"""The job state machine in MongoDB: queued → running(stage) → completed | failed.

Every transition is a single conditional update, so a redelivered or late task can never move a
finished job backwards, and two racing writers agree on who completed it.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument

from pipelines.storage import Storage
from schemas.errors import ErrorCode
from schemas.jobs import JobStatus, Stage

ACTIVE = [JobStatus.queued.value, JobStatus.running.value]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def create_job(
    storage: Storage,
    *,
    session_id: str,
    kind: str,
    persona: str,
    persona_version: str,
    input_text: str | None = None,
    input_audio_id: str | None = None,
    callback_url: str | None = None,
) -> dict[str, Any]:
    now = utcnow()
    doc: dict[str, Any] = {
        "_id": new_id(),
        "session_id": session_id,
        "kind": kind,
        "status": JobStatus.queued.value,
        "stage": None,
        "persona": persona,
        "persona_version": persona_version,
        "input_text": input_text,
        "input_audio_id": input_audio_id,
        "callback_url": callback_url,
        "transcript": None,
        "reply": None,
        "llm_attempt": 0,
        "segments_total": None,
        "timings": {},
        "error": None,
        "created_at": now,
        "updated_at": now,
    }
    storage.jobs.insert_one(doc)
    return doc


def get_job(storage: Storage, job_id: str) -> dict[str, Any] | None:
    return storage.jobs.find_one({"_id": job_id})


def begin_stage(storage: Storage, job_id: str, stage: Stage) -> dict[str, Any] | None:
    """Mark the job running in ``stage``; None when the job is unknown or already finished."""
    now = utcnow()
    return storage.jobs.find_one_and_update(
        {"_id": job_id, "status": {"$in": ACTIVE}},
        {
            "$set": {
                "status": JobStatus.running.value,
                "stage": stage.value,
                "updated_at": now,
                f"timings.{stage.value}.started_at": now,
            }
        },
        return_document=ReturnDocument.AFTER,
    )


def finish_stage(
    storage: Storage, job_id: str, stage: Stage, *, seconds: float, fields: dict[str, Any]
) -> bool:
    now = utcnow()
    result = storage.jobs.update_one(
        {"_id": job_id, "status": {"$in": ACTIVE}},
        {
            "$set": {
                **fields,
                "updated_at": now,
                f"timings.{stage.value}.finished_at": now,
                f"timings.{stage.value}.seconds": round(seconds, 4),
            }
        },
    )
    return result.modified_count == 1


def set_fields(storage: Storage, job_id: str, fields: dict[str, Any]) -> bool:
    result = storage.jobs.update_one(
        {"_id": job_id, "status": {"$in": ACTIVE}}, {"$set": {**fields, "updated_at": utcnow()}}
    )
    return result.modified_count == 1


def fail_job(storage: Storage, job_id: str, *, code: ErrorCode, message: str, stage: Stage | None) -> bool:
    """Fail an active job; returns False when it had already finished (first failure wins)."""
    result = storage.jobs.update_one(
        {"_id": job_id, "status": {"$in": ACTIVE}},
        {
            "$set": {
                "status": JobStatus.failed.value,
                "error": {"code": code.value, "message": message, "stage": stage.value if stage else None},
                "updated_at": utcnow(),
            }
        },
    )
    return result.modified_count == 1


def is_active(storage: Storage, job_id: str) -> bool:
    return storage.jobs.count_documents({"_id": job_id, "status": {"$in": ACTIVE}}, limit=1) == 1


def maybe_complete(storage: Storage, job_id: str) -> dict[str, Any] | None:
    """Complete the job once the reply is final and every segment is ready.

    Called by the LLM stage when it ends and by every animation task; exactly one caller gets the
    completed document back (the conditional update), and that caller does the follow-up work.
    """
    job = storage.jobs.find_one({"_id": job_id, "status": JobStatus.running.value})
    if job is None or not (job.get("reply") or {}).get("done"):
        return None
    total = job.get("segments_total") or 0
    ready = storage.segments.count_documents({"job_id": job_id, "attempt": job["llm_attempt"], "ready": True})
    if ready < total:
        return None
    return storage.jobs.find_one_and_update(
        {"_id": job_id, "status": JobStatus.running.value},
        {"$set": {"status": JobStatus.completed.value, "stage": None, "updated_at": utcnow()}},
        return_document=ReturnDocument.AFTER,
    )


def begin_llm_attempt(storage: Storage, job_id: str) -> dict[str, Any] | None:
    """Start a new LLM attempt unless the reply is already final (then None: nothing to redo).

    The attempt number lets segments from a reply interrupted by a dead worker be told apart from
    the fresh reply, which is generated again from the start.
    """
    now = utcnow()
    return storage.jobs.find_one_and_update(
        {"_id": job_id, "status": {"$in": ACTIVE}, "reply.done": {"$ne": True}},
        {
            "$inc": {"llm_attempt": 1},
            "$set": {
                "status": JobStatus.running.value,
                "stage": Stage.llm.value,
                "reply": {"text": "", "emotion": "neutral", "motions": [], "done": False},
                "segments_total": None,
                "updated_at": now,
                f"timings.{Stage.llm.value}.started_at": now,
            },
        },
        return_document=ReturnDocument.AFTER,
    )
