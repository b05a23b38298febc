"""The job state machine in MongoDB: queued → running(stage) → completed | failed.

Every transition is a single conditional update, so a redelivered or late task can never move a
finished job backwards, and two racing writers agree on who completed it.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from pipelines.metrics import record_turn_end
from pipelines.storage import Storage, update_and_read
from schemas.errors import ErrorCode
from schemas.jobs import JobStatus, Stage

ACTIVE = [JobStatus.queued.value, JobStatus.running.value]
FINISHED = [JobStatus.completed.value, JobStatus.failed.value, JobStatus.interrupted.value]
# Follow-ups a finished job owes (pipelines/followups.py does them); written by the same update
# that finishes it, so a crash right after loses none of them.
FOLLOWUP_CONTEXT = "context"
FOLLOWUP_EVENT = "event"
FOLLOWUP_WEBHOOK = "webhook"
FOLLOWUP_MEMORY = "memory"  # distil the viewer's long-term memories (memory queue)
JOB_COMPLETED_FOLLOWUPS = [FOLLOWUP_CONTEXT, FOLLOWUP_EVENT, FOLLOWUP_WEBHOOK, FOLLOWUP_MEMORY]
JOB_FAILED_FOLLOWUPS = [FOLLOWUP_EVENT, FOLLOWUP_WEBHOOK]
JOB_INTERRUPTED_FOLLOWUPS = JOB_COMPLETED_FOLLOWUPS  # what was heard is remembered


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def create_job(
    storage: Storage,
    *,
    session_id: str | None,
    kind: str,
    persona: str,
    persona_version: str,
    input_text: str | None = None,
    input_audio_id: str | None = None,
    callback_url: str | None = None,
    owner: str | None = None,
    extra: dict[str, Any] | None = None,
    job_id: str | None = None,
) -> dict[str, Any]:
    """``owner``: the id of the API key that submitted it (only that key, or an admin, reads it);
    ``extra``: fields set at creation by kinds that start further along (pipelines/verbatim.py);
    ``job_id``: an id chosen beforehand, for work stored before the job (a line's segments)."""
    now = utcnow()
    doc: dict[str, Any] = {
        "_id": job_id or new_id(),
        "owner": owner,
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
        **(extra or {}),
    }
    storage.journaled(storage.jobs).insert_one(doc)  # the client is told it was accepted
    return doc


def get_job(storage: Storage, job_id: str) -> dict[str, Any] | None:
    return storage.jobs.find_one({"_id": job_id})


def begin_stage(storage: Storage, job_id: str, stage: Stage) -> dict[str, Any] | None:
    """Mark the job running in ``stage``; None when the job is unknown or already finished."""
    now = utcnow()
    return update_and_read(
        storage.jobs,
        {"_id": job_id, "status": {"$in": ACTIVE}},
        {
            "$set": {
                "status": JobStatus.running.value,
                "stage": stage.value,
                "updated_at": now,
                f"timings.{stage.value}.started_at": now,
            }
        },
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


def fail_job(
    storage: Storage, job_id: str, *, code: ErrorCode, message: str, stage: Stage | None
) -> dict[str, Any] | None:
    """Fail an active job: the failed document, or None when it had already finished (first wins)."""
    failed = update_and_read(
        storage.jobs,
        {"_id": job_id, "status": {"$in": ACTIVE}},
        {
            "$set": {
                "status": JobStatus.failed.value,
                "error": {"code": code.value, "message": message, "stage": stage.value if stage else None},
                "followups": JOB_FAILED_FOLLOWUPS,
                "updated_at": utcnow(),
            }
        },
    )
    if failed is not None:
        record_turn_end(failed)
    return failed


def is_active(storage: Storage, job_id: str) -> bool:
    return storage.jobs.count_documents({"_id": job_id, "status": {"$in": ACTIVE}}, limit=1) == 1


def is_current_attempt(storage: Storage, job_id: str, attempt: int) -> bool:
    """Whether the job is unfinished and ``attempt`` is still its LLM attempt (not superseded)."""
    current = {"_id": job_id, "status": {"$in": ACTIVE}, "llm_attempt": attempt}
    return storage.jobs.count_documents(current, limit=1) == 1


def finish_reply(
    storage: Storage,
    job_id: str,
    attempt: int,
    *,
    seconds: float,
    reply: dict[str, Any],
    total: int,
    model: dict[str, str] | None = None,
) -> bool:
    """Make the reply final (fenced by the attempt); False for a stale attempt or an ended job.
    ``model``: the backend and model that wrote it (``models.llm``, shown in history)."""
    now = utcnow()
    result = storage.jobs.update_one(
        {"_id": job_id, "status": JobStatus.running.value, "llm_attempt": attempt},
        {
            "$set": {
                "reply": reply,
                "segments_total": total,
                "stage": Stage.tts.value,
                "updated_at": now,
                f"timings.{Stage.llm.value}.finished_at": now,
                f"timings.{Stage.llm.value}.seconds": round(seconds, 4),
                **({"models.llm": model} if model else {}),
            }
        },
    )
    return result.matched_count == 1


def complete_job(storage: Storage, job_id: str, attempt: int) -> dict[str, Any] | None:
    """Complete the running job whose reply (of ``attempt``) is final; the caller has seen every
    segment ready (pipelines/stages/completion.py). The completed document for exactly one
    caller, None for every other (it had ended, or a newer attempt took over)."""
    completed = update_and_read(
        storage.jobs,
        {"_id": job_id, "status": JobStatus.running.value, "llm_attempt": attempt, "reply.done": True},
        {
            "$set": {
                "status": JobStatus.completed.value,
                "stage": None,
                "followups": JOB_COMPLETED_FOLLOWUPS,
                "updated_at": utcnow(),
            }
        },
    )
    if completed is not None:
        record_turn_end(completed)
    return completed


def begin_llm_attempt(storage: Storage, job_id: str) -> dict[str, Any] | None:
    """Start a new LLM attempt unless the reply is already final (then None: nothing to redo);
    the job as the update left it.

    The attempt number lets segments from a reply interrupted by a dead worker be told apart from
    the fresh reply, which is generated again from the start. Compare-and-set on the number: of
    two deliveries racing for the same attempt one wins, the other gets None and stops.
    """
    open_reply = {"_id": job_id, "status": {"$in": ACTIVE}, "reply.done": {"$ne": True}}
    current = storage.jobs.find_one(open_reply)
    if current is None:
        return None
    now = utcnow()
    fields: dict[str, Any] = {
        "llm_attempt": int(current["llm_attempt"]) + 1,
        "status": JobStatus.running.value,
        "stage": Stage.llm.value,
        "reply": {"text": "", "emotion": "neutral", "motions": [], "done": False},
        "segments_total": None,
        "updated_at": now,
    }
    started = {f"timings.{Stage.llm.value}.started_at": now}
    result = storage.jobs.update_one(
        {**open_reply, "llm_attempt": current["llm_attempt"]}, {"$set": {**fields, **started}}
    )
    if result.matched_count == 0:
        return None
    timings = dict(current.get("timings") or {})
    timings[Stage.llm.value] = {**(timings.get(Stage.llm.value) or {}), "started_at": now}
    return {**current, **fields, "timings": timings}  # merged here: no read-back on the turn's path
