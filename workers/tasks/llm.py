"""The llm queue's task."""

import os
from functools import cache

from celery import Task

from pipelines.queues import TaskName
from pipelines.stages.llm import generate_reply
from schemas.jobs import Stage
from workers.backends import chat_model
from workers.memory_runtime import memory_recall
from workers.runtime import app, settings, stage_context
from workers.tasks.base import job_failure_recorder, run_stage


@cache
def yield_cores_to_the_voice() -> None:
    """Once per process: a local model lowers its own priority (``llm_local_nice``).

    On shared cores llama.cpp's threads would take half the CPU from Piper while it voices the
    sentence the viewer is waiting for; niced, the model writes the next sentence in what is left.
    """
    config = settings()
    if config.llm_backend == "local" and config.llm_local_nice:
        os.nice(config.llm_local_nice)


@app.task(name=TaskName.reply, bind=True, max_retries=settings().stage_max_retries)
def reply(self: Task, job_id: str) -> None:
    yield_cores_to_the_voice()
    run_stage(
        self,
        record_failure=job_failure_recorder(job_id, Stage.llm),
        body=lambda: generate_reply(stage_context(), chat_model(settings()), job_id, memory_recall()),
    )
