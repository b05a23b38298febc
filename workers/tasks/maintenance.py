"""Periodic housekeeping, run by the notify worker's embedded beat (`celery worker -B`)."""

from celery import Task

from pipelines.queues import TaskName
from pipelines.recovery import recover_stalled
from workers.runtime import app, settings, stage_context

app.conf.beat_schedule = {
    "recover-stalled-work": {"task": TaskName.recover_stalled, "schedule": settings().recovery_interval_s},
}


@app.task(name=TaskName.recover_stalled, bind=True)
def recover(self: Task) -> dict[str, int]:
    config = settings()
    return recover_stalled(
        stage_context(), idle_for_s=config.broker_visibility_timeout_s + config.task_time_limit_s
    )
