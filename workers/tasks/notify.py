"""The notify queue: deliver signed webhooks with retries, never blocking a pipeline stage.

At least once: a delivery interrupted by a crash is repeated with the same event id. Every attempt
is recorded (``webhook_attempts``); once the receiver has answered, or the destination was refused
(pipelines/callbacks.py: not retried), or the retries ran out, the outcome is recorded as
``webhook`` on the job or batch, so a follow-up run again by the sweep does not send it again.
"""

import logging
from typing import Any

import httpx
from celery import Task
from celery.exceptions import Ignore
from pymongo.collection import Collection

from pipelines.callbacks import CallbackRefused, parse_networks
from pipelines.queues import TaskName
from pipelines.webhook_sender import record_attempt, record_outcome, send_webhook
from pipelines.webhooks import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    UnsignedWebhooksRefused,
    encode_event,
    event_id,
    require_signing,
    sign,
)
from schemas.errors import ErrorCode
from workers.runtime import app, settings, storage
from workers.tasks.base import backoff_seconds

log = logging.getLogger(__name__)


def job_event(job: dict[str, Any]) -> tuple[str, dict[str, object]]:
    data = {
        "job_id": job["_id"],
        "status": job["status"],
        "session_id": job["session_id"],
        "reply": job.get("reply"),
        "error": job.get("error"),
    }
    return f"job.{job['status']}", data


def batch_event(batch: dict[str, Any]) -> tuple[str, dict[str, object]]:
    data = {
        "batch_id": batch["_id"],
        "status": batch["status"],
        "files_total": batch["files_total"],
        "files_done": batch["files_done"],
        "files_failed": batch["files_failed"],
    }
    return f"transcription.{batch['status']}", data


@app.task(name=TaskName.deliver_webhook, bind=True, max_retries=settings().webhook_max_attempts)
def deliver_webhook(self: Task, kind: str, object_id: str) -> None:
    config = settings()
    collection: Collection = storage().jobs if kind == "job" else storage().batches
    found = collection.find_one({"_id": object_id})
    if found is None or not found.get("callback_url"):
        return
    event, data = job_event(found) if kind == "job" else batch_event(found)
    stable_id = event_id(event, object_id)
    if (found.get("webhook") or {}).get("event_id") == stable_id:
        return  # the receiver already answered this event (or it was refused)
    attempt = self.request.retries + 1
    try:
        require_signing(config.env, config.webhook_secret)
    except UnsignedWebhooksRefused as exc:
        log.error("%s", exc)
        record_attempt(collection, object_id, attempt, status_code=None, error=str(exc))
        raise
    body = encode_event(event, data, event_id=stable_id)
    headers = {
        "Content-Type": "application/json",
        "X-VTuber-Event": event,
        EVENT_ID_HEADER: stable_id,
        ATTEMPT_HEADER: str(attempt),
    }
    if config.webhook_secret:
        headers[SIGNATURE_HEADER] = sign(body, config.webhook_secret)
    try:
        answer = send_webhook(
            found["callback_url"],
            body,
            headers,
            allowed=parse_networks(config.callback_allowed_networks),
            timeout_s=config.webhook_timeout_s,
        )
    except CallbackRefused as exc:
        error = f"{ErrorCode.callback_not_allowed.value}: {exc.message}"
        record_attempt(collection, object_id, attempt, status_code=None, error=error)
        if exc.transient:  # a name that did not resolve may resolve later
            raise retry_or_give_up(self, collection, object_id, stable_id, error, exc) from exc
        log.warning("webhook %s not sent: %s", stable_id, exc.message)
        record_outcome(collection, object_id, stable_id, status_code=None, error=error)
        return
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
        record_attempt(collection, object_id, attempt, status_code=None, error=error)
        raise retry_or_give_up(self, collection, object_id, stable_id, error, exc) from exc
    record_attempt(collection, object_id, attempt, status_code=answer.status_code, error=None)
    if answer.status_code >= 500 or answer.status_code == 429:
        raise retry_or_give_up(self, collection, object_id, stable_id, f"HTTP {answer.status_code}")
    record_outcome(collection, object_id, stable_id, status_code=answer.status_code)


def retry_or_give_up(
    task: Task,
    collection: Collection,
    object_id: str,
    stable_id: str,
    error: str,
    exc: Exception | None = None,
) -> BaseException:
    """The exception to raise: Celery's retry, or, after the last attempt, Ignore with the outcome
    recorded (so the sweep does not send it again)."""
    retries = task.request.retries
    if retries >= (task.max_retries or 0):
        log.warning("webhook %s given up after %d attempts: %s", stable_id, retries + 1, error)
        record_outcome(
            collection,
            object_id,
            stable_id,
            status_code=None,
            error=f"gave up after {retries + 1} attempts: {error}",
        )
        return Ignore()
    return task.retry(exc=exc, countdown=backoff_seconds(retries), throw=False)
