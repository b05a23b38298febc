"""Periodic housekeeping, run by the notify worker's embedded beat (`celery worker -B`)."""

import logging

from celery import Task

from pipelines.inflight import snapshot
from pipelines.queues import TaskName
from pipelines.recovery import recover_stalled
from workers.runtime import app, redis_client, settings, stage_context
from workers.tasks.base import INFRASTRUCTURE_ERRORS

log = logging.getLogger(__name__)

app.conf.beat_schedule = {
    "recover-stalled-work": {"task": TaskName.recover_stalled, "schedule": settings().recovery_interval_s},
}


@app.task(name=TaskName.recover_stalled, bind=True)
def recover(self: Task) -> dict[str, int]:
    try:
        return recover_stalled(stage_context(), snapshot(redis_client()))
    except INFRASTRUCTURE_ERRORS as exc:  # the next scheduled sweep tries again
        log.warning("sweep skipped, a dependency is unavailable: %r", exc)
        return {}
