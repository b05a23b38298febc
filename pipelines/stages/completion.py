"""What happens once, when a turn completes: remember it, announce it, tell whoever asked."""

from typing import Any

from pipelines.jobs import complete_if_all_ready, utcnow
from pipelines.stages.context import StageContext
from schemas.events import EventType
from schemas.session import ConversationTurn


def complete_if_done(ctx: StageContext, latest: dict[str, Any]) -> bool:
    """``latest``: the job as the caller's own update just returned it."""
    job = complete_if_all_ready(ctx.storage, latest)
    if job is None:
        return False
    job_id = job["_id"]
    reply = job.get("reply") or {}
    user_text = job.get("input_text") or (job.get("transcript") or {}).get("text") or ""
    ctx.context.append(
        job["session_id"],
        ConversationTurn(
            job_id=job_id,
            user=user_text,
            assistant=reply.get("text", ""),
            emotion=reply.get("emotion", "neutral"),
            at=utcnow(),
        ),
    )
    ctx.events.emit(EventType.job_completed, job, reply=reply, segments_total=job.get("segments_total"))
    if job.get("callback_url"):
        ctx.dispatcher.deliver_webhook("job", job_id)
    return True
