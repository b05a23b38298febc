"""The error policy every stage task shares.

- A message delivered more than ``max_deliveries`` times (its worker died each time): dead-letter
  it and fail with ``worker_crashed``, never try it again.
- StageError: retry later if it says retrying may help, otherwise fail the job with its code.
- MongoDB or Redis unreachable: retry with backoff (the job must survive a database restart).
- Time limit: fail with ``stage_timeout``. Anything else: fail with ``internal_error``; the worker
  process keeps serving either way.
"""

from collections.abc import Callable

from celery import Task
from celery.exceptions import Reject, SoftTimeLimitExceeded
from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pipelines.deliveries import DeliveryCounter, dead_letter
from pipelines.errors import StageError
from pipelines.followups import fail_and_follow_up
from pipelines.logging_setup import get_logger
from schemas.errors import ErrorCode
from schemas.jobs import Stage
from workers import log_context, metrics_server  # noqa: F401  (signal handlers of every worker)
from workers.runtime import redis_client, settings, stage_context, storage
from workers.stage_metrics import StageRun

log = get_logger(__name__)

INFRASTRUCTURE_ERRORS = (
    ConnectionFailure,
    AutoReconnect,
    ServerSelectionTimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
)
INFRASTRUCTURE_MAX_RETRIES = 30


def backoff_seconds(retries: int) -> float:
    return float(min(60, 2**retries))


def run_stage(
    task: Task,
    *,
    record_failure: Callable[[ErrorCode, str], None],
    body: Callable[[], None],
    count_deliveries: bool = True,
) -> None:
    """``count_deliveries=False`` for work that counts its own claims (batch files, whose message
    is delivered again by design while a long file still runs).

    Every run is measured and logged once (workers/stage_metrics.py): its queue wait, duration,
    outcome and error code, with the job's ids bound to every line it logs.
    """
    run = StageRun.begin(task, settings())
    record_failure = run.counting_failures(record_failure)
    try:
        if count_deliveries and given_up_as_poison(task, record_failure, run):
            run.finish("dead_lettered")
            return
        if not count_deliveries:
            run.delivered()
        run.started()
        body()
        run.finish("ok")
    except StageError as exc:
        retries = task.request.retries
        if exc.retryable and retries < (task.max_retries or 0):
            run.finish("retry", reason="retryable_error", error_code=exc.code.value)
            raise task.retry(exc=exc, countdown=backoff_seconds(retries)) from exc
        record_failure(exc.code, exc.message)
        run.finish("failed")
    except SoftTimeLimitExceeded:
        record_failure(ErrorCode.stage_timeout, f"{task.name} exceeded its time limit")
        run.finish("failed")
    except INFRASTRUCTURE_ERRORS as exc:
        run.finish("retry", reason="dependency_unavailable", error=type(exc).__name__)
        try:
            raise task.retry(
                exc=exc,
                countdown=backoff_seconds(task.request.retries),
                max_retries=INFRASTRUCTURE_MAX_RETRIES,
            ) from exc
        except Reject as unsent:
            # Celery turns a retry it could not send (the broker is the dependency that is down)
            # into a rejection that drops the message; give it back to the queue instead.
            raise Reject(exc, requeue=True) from unsent
    except Exception as exc:
        log.exception("stage crashed")
        record_failure(ErrorCode.internal_error, f"{type(exc).__name__}: {exc}")
        run.finish("failed")


def given_up_as_poison(task: Task, record_failure: Callable[[ErrorCode, str], None], run: StageRun) -> bool:
    """Count this delivery; past the cap, keep the message as a dead letter and fail its work."""
    request = task.request
    retries = int(request.retries or 0)
    deliveries = DeliveryCounter(redis_client()).count(str(request.id), retries)
    run.delivered(deliveries)
    cap = settings().max_deliveries
    if deliveries <= cap:
        return False
    reason = f"{task.name} was delivered {deliveries} times; its worker process died each time"
    log.error("poison message", deliveries=deliveries, reason=reason)
    dead_letter(
        storage(),
        task_id=str(request.id),
        task_name=str(task.name),
        args=list(request.args or []),
        retries=retries,
        deliveries=deliveries,
        reason=reason,
    )
    record_failure(ErrorCode.worker_crashed, reason)
    return True


def job_failure_recorder(job_id: str, stage: Stage) -> Callable[[ErrorCode, str], None]:
    def record(code: ErrorCode, message: str) -> None:
        fail_and_follow_up(stage_context(), job_id, code=code, message=message, stage=stage)

    return record
