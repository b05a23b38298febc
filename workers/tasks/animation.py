"""The animation queue's task."""

from celery import Task

from pipelines.queues import TaskName
from pipelines.segment_work import SegmentWork
from pipelines.stages.animation import animate_segment
from schemas.jobs import Stage
from workers.animation_phonemes import text_phonemes
from workers.runtime import app, settings, stage_context
from workers.tasks.base import job_failure_recorder, run_stage


@app.task(name=TaskName.animate_segment, bind=True, max_retries=settings().stage_max_retries)
def animate(self: Task, job_id: str, attempt: int, index: int, work: SegmentWork | None = None) -> None:
    run_stage(
        self,
        record_failure=job_failure_recorder(job_id, Stage.animation),
        body=lambda: animate_segment(stage_context(), text_phonemes, job_id, attempt, index, work),
    )
