"""Periodic housekeeping, run by the notify worker's embedded beat (`celery worker -B`)."""

import logging

from celery import Task

from pipelines.erasure import ErasureContext
from pipelines.inflight import snapshot
from pipelines.queues import TaskName
from pipelines.recovery import recover_stalled
from pipelines.retention import sweep_retention
from workers.runtime import app, redis_client, settings, stage_context, storage
from workers.tasks.base import INFRASTRUCTURE_ERRORS

log = logging.getLogger(__name__)

app.conf.beat_schedule = {
    "recover-stalled-work": {"task": TaskName.recover_stalled, "schedule": settings().recovery_interval_s},
    "apply-retention": {"task": TaskName.apply_retention, "schedule": settings().retention_interval_s},
}
if settings().memory_enabled:  # compaction runs on the memory worker (its queue), sent from here
    app.conf.beat_schedule["optimize-memories"] = {
        "task": TaskName.optimize_memories,
        "schedule": settings().memory_optimize_interval_s,
    }


@app.task(name=TaskName.recover_stalled, bind=True)
def recover(self: Task) -> dict[str, int]:
    try:
        return recover_stalled(stage_context(), snapshot(redis_client()))
    except INFRASTRUCTURE_ERRORS as exc:  # the next scheduled sweep tries again
        log.warning("sweep skipped, a dependency is unavailable: %r", exc)
        return {}


@app.task(name=TaskName.apply_retention, bind=True)
def apply_retention(self: Task) -> dict[str, int]:
    """Delete what is older than the retention settings (pipelines/retention.py)."""
    try:
        deleted = sweep_retention(ErasureContext(storage(), redis_client(), settings()))
    except INFRASTRUCTURE_ERRORS as exc:  # the next scheduled sweep tries again
        log.warning("retention sweep skipped, a dependency is unavailable: %r", exc)
        return {}
    if deleted:
        log.info("retention sweep deleted %s", deleted)
    return deleted
