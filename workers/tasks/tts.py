"""The tts queue's task."""

from celery import Task

from pipelines.queues import TaskName
from pipelines.segment_work import SegmentWork
from pipelines.stages.tts import synthesize_segment
from schemas.jobs import Stage
from workers.backends import speech_synthesizer
from workers.runtime import app, settings, stage_context
from workers.tasks.base import job_failure_recorder, run_stage

if settings().tts_backend == "gpt_sovits":  # at worker start-up, not segment by segment
    from workers.tts.gpt_sovits import refuse_unvoiceable_personas

    refuse_unvoiceable_personas(settings())


@app.task(name=TaskName.synthesize_segment, bind=True, max_retries=settings().stage_max_retries)
def synthesize(self: Task, job_id: str, attempt: int, index: int, work: SegmentWork | None = None) -> None:
    run_stage(
        self,
        record_failure=job_failure_recorder(job_id, Stage.tts),
        body=lambda: synthesize_segment(
            stage_context(), speech_synthesizer(settings()), job_id, attempt, index, work
        ),
    )
