"""The llm queue's task."""

from celery import Task

from pipelines.queues import TaskName
from pipelines.stages.llm import generate_reply
from schemas.jobs import Stage
from workers.backends import chat_model
from workers.runtime import app, settings, stage_context
from workers.tasks.base import job_failure_recorder, run_stage


@app.task(name=TaskName.reply, bind=True, max_retries=settings().stage_max_retries)
def reply(self: Task, job_id: str) -> None:
    run_stage(
        self,
        record_failure=job_failure_recorder(job_id, Stage.llm),
        body=lambda: generate_reply(stage_context(), chat_model(settings()), job_id),
    )
