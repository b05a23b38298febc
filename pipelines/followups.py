"""Durable follow-ups: what must happen once a job or batch has finished, kept as an outbox.

The update that completes or fails a job also writes the list of follow-ups it owes
(``followups``: remember the turn in the session context, announce the end on the event log, send
the webhook). Each is done and then pulled from the list, so a crash in between leaves it on the
document, and the sweep (pipelines/recovery.py) finishes it. Each follow-up is safe to repeat:
the context append is guarded by the job id, a webhook carries a stable event id that
receivers de-duplicate on, and memories are upserted by keys of their own.
"""

from typing import Any

from pipelines.jobs import (
    FOLLOWUP_CONTEXT,
    FOLLOWUP_EVENT,
    FOLLOWUP_MEMORY,
    FOLLOWUP_WEBHOOK,
    fail_job,
    utcnow,
)
from pipelines.stages.context import StageContext
from pipelines.turn_state import mark_ended
from pipelines.verbatim import may_hold_lines, release_held_lines
from schemas.errors import ErrorCode
from schemas.events import EventType
from schemas.jobs import JobKind, JobStatus, Stage
from schemas.session import ConversationTurn

REMEMBERED_KINDS = frozenset({JobKind.audio, JobKind.text, JobKind.speak})


def run_job_followups(ctx: StageContext, job: dict[str, Any]) -> None:
    """Do what ``job`` (a finished job's document) still owes, then strike it off in one update
    (a crash before that repeats them, and each is safe to repeat)."""
    mark_ended(ctx.events.client, job["_id"])  # tasks still queued for it skip their work
    owed = list(job.get("followups") or [])
    for followup in owed:
        if followup == FOLLOWUP_CONTEXT:
            remember_turn(ctx, job)
        elif followup == FOLLOWUP_EVENT:
            announce_end(ctx, job)
        elif followup == FOLLOWUP_WEBHOOK and job.get("callback_url"):
            ctx.dispatcher.deliver_webhook("job", job["_id"])
        elif followup == FOLLOWUP_MEMORY and job.get("viewer_id") and ctx.settings.memory_enabled:
            ctx.dispatcher.distill_memories(job["_id"])  # idempotent: keyed upserts
    if owed:
        ctx.storage.jobs.update_one({"_id": job["_id"]}, {"$pullAll": {"followups": owed}})
    if job.get("kind") != JobKind.avatar and may_hold_lines(ctx.events.client, job.get("session_id")):
        # A turn that ended before its reply was final (failed, interrupted) no longer holds back
        # the verbatim lines queued after it (pipelines/verbatim.py).
        release_held_lines(ctx.storage, ctx.dispatcher, job["session_id"])


def fail_and_follow_up(
    ctx: StageContext, job_id: str, *, code: ErrorCode, message: str, stage: Stage | None
) -> dict[str, Any] | None:
    """Fail an unfinished job and do what its end owes at once; None when it had already ended."""
    failed = fail_job(ctx.storage, job_id, code=code, message=message, stage=stage)
    if failed is not None:
        run_job_followups(ctx, failed)
    return failed


def run_batch_followups(ctx: StageContext, batch: dict[str, Any]) -> None:
    owed = list(batch.get("followups") or [])
    if FOLLOWUP_WEBHOOK in owed and batch.get("callback_url"):
        ctx.dispatcher.deliver_webhook("batch", batch["_id"])
    if owed:
        ctx.storage.batches.update_one({"_id": batch["_id"]}, {"$pullAll": {"followups": owed}})


def remember_turn(ctx: StageContext, job: dict[str, Any]) -> None:
    """The turn as the viewer lived it: an interrupted reply is remembered as far as it was heard.

    A verbatim line (kind ``speak``) is remembered as the avatar saying it, with no user text; an
    avatar command or a session-less animation is not a turn of any conversation.
    """
    if job.get("session_id") is None or job.get("kind") not in REMEMBERED_KINDS:
        return
    reply = job.get("reply") or {}
    interruption = job.get("interruption")
    if job["kind"] == JobKind.speak:
        if interruption and not interruption["heard_text"]:
            return  # cut off before a word of it was heard: nothing was said
        user_text = ""  # its input_text is what the avatar said, not what anyone asked
    else:
        user_text = job.get("input_text") or (job.get("transcript") or {}).get("text") or ""
    ctx.context.append(
        job["session_id"],
        ConversationTurn(
            job_id=job["_id"],
            user=user_text,
            assistant=interruption["heard_text"] if interruption else reply.get("text", ""),
            emotion=reply.get("emotion", "neutral"),
            at=utcnow(),
            interrupted=interruption is not None,
        ),
    )


def announce_end(ctx: StageContext, job: dict[str, Any]) -> None:
    if job["status"] == JobStatus.completed.value:
        # An avatar command has no reply: its event carries none.
        ctx.events.emit(
            EventType.job_completed, job, reply=job.get("reply"), segments_total=job.get("segments_total")
        )
    elif job["status"] == JobStatus.interrupted.value:
        ctx.events.emit(EventType.job_interrupted, job, interruption=job["interruption"])
    else:
        ctx.events.emit(EventType.job_failed, job, error=job["error"])
