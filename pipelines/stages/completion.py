"""What happens once, when a turn completes: remember it, and tell whoever asked to be told."""

from pipelines.jobs import maybe_complete, utcnow
from pipelines.stages.context import StageContext
from schemas.session import ConversationTurn


def complete_if_done(ctx: StageContext, job_id: str) -> bool:
    job = maybe_complete(ctx.storage, job_id)
    if job is None:
        return False
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
    if job.get("callback_url"):
        ctx.dispatcher.deliver_webhook("job", job_id)
    return True
