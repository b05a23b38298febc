"""What happens once, when a turn completes: the decision, and its follow-ups (pipelines/followups.py).

Redis counts the ready segments (pipelines/turn_state.py); whoever sees the count reach the
reply's total asks MongoDB to complete the job, whose conditional update lets exactly one caller
through. When Redis cannot tell (the total is not there), MongoDB is asked.
"""

from typing import Any

from pipelines.followups import run_job_followups
from pipelines.jobs import complete_job
from pipelines.segments import count_ready_segments
from pipelines.stages.context import StageContext
from pipelines.turn_state import REPLY_OPEN
from schemas.jobs import JobStatus


def complete_when_ready(
    ctx: StageContext, job_id: str, attempt: int, *, ready: int, total: int | None
) -> bool:
    """``ready``/``total`` as Redis counted them (total None: unknown there, REPLY_OPEN: the reply
    is still being written). Whether this call completed the turn."""
    if total == REPLY_OPEN:
        return False
    if total is None:
        job = ctx.storage.jobs.find_one(
            {"_id": job_id, "status": JobStatus.running.value, "llm_attempt": attempt, "reply.done": True},
            {"segments_total": 1},
        )
        if job is None:
            return False
        total, ready = int(job.get("segments_total") or 0), count_ready_segments(ctx.storage, job_id, attempt)
    return ready >= total and complete_and_follow_up(ctx, job_id, attempt)


def complete_and_follow_up(ctx: StageContext, job_id: str, attempt: int) -> bool:
    """Complete the turn (every segment is ready) and do what its end owes; whether this call did."""
    completed = complete_job(ctx.storage, job_id, attempt)
    if completed is None:
        return False
    run_job_followups(ctx, completed)
    return True


def all_segments_ready(ctx: StageContext, job: dict[str, Any]) -> bool:
    """MongoDB's answer (the sweep's): the reply is final and every segment has its track."""
    if not (job.get("reply") or {}).get("done"):
        return False
    attempt = int(job.get("llm_attempt") or 0)
    return count_ready_segments(ctx.storage, job["_id"], attempt) >= int(job.get("segments_total") or 0)
