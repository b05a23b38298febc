"""What happens once, when a turn completes: its follow-ups (pipelines/followups.py)."""

from typing import Any

from pipelines.followups import run_job_followups
from pipelines.jobs import complete_if_all_ready
from pipelines.stages.context import StageContext


def complete_if_done(ctx: StageContext, latest: dict[str, Any]) -> bool:
    """``latest``: the job as the caller's own update just returned it."""
    job = complete_if_all_ready(ctx.storage, latest)
    if job is None:
        return False
    run_job_followups(ctx, job)
    return True
