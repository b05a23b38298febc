"""Worker logging: configured from settings instead of by Celery, with each task's ids bound.

Connecting ``setup_logging`` tells Celery not to configure logging itself (its own lines then go
through structlog's formatter as JSON like ours). Each task starts with a clean context holding its
name and id; run_stage (workers/tasks/base.py) adds the job's ids, stage and attempt.
"""

from typing import Any

from celery import Task
from celery.signals import setup_logging, task_postrun, task_prerun

from pipelines.logging_setup import bind, clear, configure_logging
from pipelines.settings import get_settings


@setup_logging.connect
def _configure(**_: Any) -> None:
    """Level and format from settings (VTUBER_LOG_LEVEL, VTUBER_LOG_FORMAT), not ``-l``."""
    configure_logging(get_settings(), process=f"worker-{get_settings().worker_kind}")


@task_prerun.connect
def _bind_task(task_id: str | None = None, task: Task | None = None, **_: Any) -> None:
    clear()
    bind(task=getattr(task, "name", None), task_id=task_id)


@task_postrun.connect
def _unbind(**_: Any) -> None:
    clear()
