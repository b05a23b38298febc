"""Re-dispatch work whose queue message was lost (e.g. Redis crashed inside its fsync window).

Acked-late messages come back by themselves after the visibility timeout; this sweep covers the
rarer case where the message itself is gone. It sends each stalled job's next stage again, which
is safe because every stage is idempotent. It only looks at jobs idle for longer than the
visibility timeout, so it never races a redelivery.
"""

from datetime import timedelta
from typing import Any

from pipelines.batches import OPEN_BATCH, OPEN_FILE
from pipelines.jobs import ACTIVE, utcnow
from pipelines.segments import list_segments
from pipelines.stages.context import StageContext


def redispatch_job(ctx: StageContext, job: dict[str, Any]) -> str:
    """Send the job's next stage; returns which (for logs and tests)."""
    job_id = job["_id"]
    if job["kind"] == "audio" and job.get("transcript") is None:
        ctx.dispatcher.transcribe_utterance(job_id)
        return "stt"
    if not (job.get("reply") or {}).get("done"):
        ctx.dispatcher.reply(job_id)
        return "llm"
    attempt = int(job["llm_attempt"])
    for segment in list_segments(ctx.storage, job_id, attempt):
        if segment.get("audio_id") is None:
            ctx.dispatcher.synthesize(job_id, attempt, segment["index"])
        elif not segment.get("ready"):
            ctx.dispatcher.animate(job_id, attempt, segment["index"])
    return "segments"


def recover_stalled(ctx: StageContext, *, idle_for_s: float) -> dict[str, int]:
    cutoff = utcnow() - timedelta(seconds=idle_for_s)
    jobs = 0
    for job in ctx.storage.jobs.find({"status": {"$in": ACTIVE}, "updated_at": {"$lt": cutoff}}):
        redispatch_job(ctx, job)
        ctx.storage.jobs.update_one({"_id": job["_id"]}, {"$set": {"updated_at": utcnow()}})
        jobs += 1
    files = 0
    for batch in ctx.storage.batches.find({"status": {"$in": OPEN_BATCH}, "updated_at": {"$lt": cutoff}}):
        for doc in ctx.storage.batch_files.find({"batch_id": batch["_id"], "status": {"$in": OPEN_FILE}}):
            ctx.dispatcher.transcribe_file(batch["_id"], doc["index"])
            files += 1
        ctx.storage.batches.update_one({"_id": batch["_id"]}, {"$set": {"updated_at": utcnow()}})
    return {"jobs": jobs, "batch_files": files}
