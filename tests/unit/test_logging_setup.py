"""Log lines: JSON for structlog and stdlib records alike, bound ids, no secrets, user text at debug only."""

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from pipelines.logging_setup import bind, clear, configure_logging, get_logger
from pipelines.settings import Settings


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    clear()
    structlog.reset_defaults()


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_stdlib_and_structlog_lines_are_json_with_the_bound_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_level="info", log_format="json"), process="worker-tts")
    bind(job_id="job-1", stage="tts", attempt=2, segment=None)
    logging.getLogger("celery.worker.consumer").info("Connected to %s", "redis://localhost:6379/0")
    get_logger("workers.stage").info("stage finished", duration_s=0.25)
    stdlib, ours = lines(capsys)
    assert stdlib["event"] == "Connected to redis://localhost:6379/0"
    assert stdlib["logger"] == "celery.worker.consumer" and stdlib["level"] == "info"
    for line in (stdlib, ours):
        assert line["job_id"] == "job-1" and line["stage"] == "tts" and line["attempt"] == 2
        assert line["process"] == "worker-tts" and line["timestamp"].endswith("Z")
        assert "segment" not in line  # None is not bound
    assert ours["duration_s"] == 0.25


def test_celerys_per_task_lines_are_left_to_the_stage_runs_own_but_its_errors_stay(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_level="info", log_format="json"), process="worker-tts")
    task = "tts.synthesize_segment"
    logging.getLogger("celery.worker.strategy").info("Task %s[%s] received", task, "a")
    logging.getLogger("celery.app.trace").info("Task %s[%s] succeeded in 0.01s", task, "a")
    logging.getLogger("celery.app.trace").error("Task %s[%s] raised unexpected", task, "b")
    (line,) = lines(capsys)
    assert line["event"] == "Task tts.synthesize_segment[b] raised unexpected" and line["level"] == "error"


def test_secrets_are_redacted_and_user_text_only_reaches_debug_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_level="debug", log_format="json"), process="api")
    log = get_logger("test")
    log.info("key made", api_key="vtk_secret_value", text="hello from the viewer", job_id="j")
    log.debug("prompt built", text="hello from the viewer", reply="a reply")
    info, debug = lines(capsys)
    assert info["api_key"] == "[redacted]" and "text" not in info and info["job_id"] == "j"
    assert debug["text"] == "hello from the viewer" and debug["reply"] == "a reply"


def test_the_level_comes_from_settings(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_level="warning", log_format="json"), process="api")
    get_logger("test").info("dropped")
    logging.getLogger("x").info("dropped too")
    logging.getLogger("x").warning("kept")
    assert [line["event"] for line in lines(capsys)] == ["kept"]


def test_configuring_twice_keeps_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    """A forked Celery pool process configures again what its parent configured."""
    settings = Settings(log_level="info", log_format="json")
    configure_logging(settings, process="worker")
    configure_logging(settings, process="worker")
    logging.getLogger("x").info("once")
    assert len(lines(capsys)) == 1


def test_console_format_is_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_level="info", log_format="console"), process="api")
    bind(job_id="job-7")
    get_logger("test").info("turn queued")
    out = capsys.readouterr().out
    assert "turn queued" in out and "job-7" in out and not out.lstrip().startswith("{")
