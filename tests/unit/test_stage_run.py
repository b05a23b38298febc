"""A stage run's closing line: every outcome logs once, whatever fields its caller adds."""

import pytest
import structlog

from workers.stage_metrics import StageRun


@pytest.mark.parametrize(
    ("outcome", "fields"),
    [
        ("ok", {}),
        ("retry", {"reason": "retryable_error", "error_code": "llm_timeout"}),  # a code of its own
        ("retry", {"reason": "dependency_unavailable", "error": "ConnectionFailure"}),
        ("failed", {}),
    ],
)
def test_finish_logs_one_line_with_the_callers_fields(outcome: str, fields: dict[str, str]) -> None:
    run = StageRun(task_name="llm.reply", stage="llm", backend="local", queue="llm", attempt=1, sent_at=None)
    run.failed_code = "llm_failed"
    with structlog.testing.capture_logs() as lines:
        run.finish(outcome, **fields)
    [line] = [entry for entry in lines if entry.get("outcome") == outcome]
    assert line["error_code"] == fields.get("error_code", "llm_failed")
    assert line["duration_s"] >= 0
