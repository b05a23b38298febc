"""Accepting a turn: store the job, announce it, send its first task — or fail it, never leave it dangling."""

import contextlib
from typing import Any

from redis.exceptions import RedisError

from pipelines.dispatch import Dispatcher
from pipelines.events import EventLog
from pipelines.jobs import FOLLOWUP_EVENT, create_job, fail_job
from pipelines.logging_setup import get_logger
from pipelines.persona_prompts import record_for
from pipelines.storage import Storage
from schemas.errors import ErrorCode
from schemas.events import EventType

log = get_logger(__name__)


def submit_turn(
    storage: Storage, events: EventLog, dispatcher: Dispatcher, **job_fields: Any
) -> dict[str, Any]:
    """Create the job and enqueue its first stage; if the broker is down the job is failed, then raised.

    The job records which system prompt its persona renders now (persona_prompts.py), for exports.
    """
    extra = {
        **(job_fields.pop("extra", None) or {}),
        "system_prompt_id": record_for(storage, job_fields["persona"]),
    }
    job = create_job(storage, extra=extra, **job_fields)
    try:
        events.emit(EventType.job_queued, job)  # Redis holds the log and the queue: both or neither
        if job["kind"] == "audio":
            dispatcher.transcribe_utterance(job["_id"])
        else:
            dispatcher.reply(job["_id"])
    except Exception:
        fail_unqueued(storage, events, job["_id"])
        log.warning("turn failed at submission", job_id=job["_id"], session_id=job["session_id"])
        raise
    log.info("turn queued", job_id=job["_id"], session_id=job["session_id"], kind=job["kind"])
    return job


def fail_unqueued(storage: Storage, events: EventLog, job_id: str) -> None:
    """The submit could not queue the job: fail it; its end event and webhook wait in the outbox
    if Redis is what failed."""
    failed = fail_job(
        storage,
        job_id,
        code=ErrorCode.dependency_unavailable,
        message="the job queue was unavailable; submit again",
        stage=None,
    )
    if failed is not None:
        with contextlib.suppress(RedisError):
            events.emit(EventType.job_failed, failed, error=failed["error"])
            storage.jobs.update_one({"_id": job_id}, {"$pull": {"followups": FOLLOWUP_EVENT}})
