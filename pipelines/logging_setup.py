"""One log format for every process: a JSON line per event, carrying the ids of the work it is about.

structlog renders both its own events and every stdlib ``logging`` record (Celery's, uvicorn's,
ours) through one ``ProcessorFormatter``, so ``grep <job id>`` over the API's and every worker's
output follows a turn. Ids (job_id, session_id, stage, attempt, request_id, ...) are bound as
context variables where work starts (a task, a request) and merged into each line.

What never reaches a line above debug: secrets (keys, tokens, passwords: redacted at any level)
and what a viewer said or was answered (text fields are dropped unless the line is a debug line).
Audio is never logged.
"""

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from pipelines.settings import Settings

SECRET_KEYS = frozenset(
    {"api_key", "authorization", "password", "secret", "token", "webhook_secret", "openai_api_key", "key"}
)
# What a viewer said or was answered: only on debug lines.
USER_TEXT_KEYS = frozenset({"text", "input_text", "transcript", "reply", "prompt", "messages", "user"})
# Loggers other libraries configure with handlers of their own: they go through ours instead.
FOREIGN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task", "celery.redirected")
# Chatty at info and of no use to an operator. Celery's "Task ... received" and "... succeeded in"
# lines repeat what each stage run's own line says (workers/stage_metrics.py), and formatting the
# two cost a stage task about a tenth of its orchestration CPU; their warnings and errors stay.
QUIET_LOGGERS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "pymongo": logging.WARNING,
    "celery.worker.strategy": logging.WARNING,
    "celery.app.trace": logging.WARNING,
}

_HANDLER_NAME = "vtuber-structlog"


def redact(_: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    for key in SECRET_KEYS & event_dict.keys():
        event_dict[key] = "[redacted]"
    if method_name != "debug" and event_dict.get("level") != "debug":
        for key in USER_TEXT_KEYS & event_dict.keys():
            del event_dict[key]
    return event_dict


def add_process_name(process: str) -> Processor:
    def add(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("process", process)
        return event_dict

    return add


def shared_processors(process: str) -> list[Processor]:
    """Run on structlog's events and on stdlib records alike."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_process_name(process),
        redact,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a line is emitted (a test's capture, a replaced
    stream), not the one it found when it was made."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(settings: Settings, *, process: str) -> None:
    """Idempotent: a forked Celery pool process configures again what its parent configured."""
    level = logging.getLevelName(settings.log_level.upper())
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared = shared_processors(process)
    structlog.configure(
        # Below the level, a line costs one level check (a polled route logs each read at debug).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = StdoutHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(quiet, level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)


def bind(**fields: Any) -> None:
    """Add ids to every line logged from here on in this task or request (None values skipped)."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in fields.items() if v is not None})


def bound() -> MutableMapping[str, Any]:
    return structlog.contextvars.get_contextvars()


def clear() -> None:
    structlog.contextvars.clear_contextvars()
