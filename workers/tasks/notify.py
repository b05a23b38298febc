"""The notify queue: deliver signed webhooks with retries, never blocking a pipeline stage.

At least once: a delivery interrupted by a crash is repeated with the same event id. Once the
receiver has answered, the delivery is recorded on the job or batch, so a follow-up run again by
the sweep does not send it a second time.
"""

from typing import Any

import httpx
from celery import Task
from pymongo.collection import Collection

from pipelines.jobs import utcnow
from pipelines.queues import TaskName
from pipelines.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, encode_event, event_id, sign
from workers.runtime import app, settings, storage
from workers.tasks.base import backoff_seconds


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
    collection: Collection = storage().jobs if kind == "job" else storage().batches
    found = collection.find_one({"_id": object_id})
    if found is None or not found.get("callback_url"):
        return
    event, data = job_event(found) if kind == "job" else batch_event(found)
    stable_id = event_id(event, object_id)
    if (found.get("webhook") or {}).get("event_id") == stable_id:
        return  # the receiver already answered this event
    body = encode_event(event, data, event_id=stable_id)
    headers = {"Content-Type": "application/json", "X-VTuber-Event": event, EVENT_ID_HEADER: stable_id}
    if settings().webhook_secret:
        headers[SIGNATURE_HEADER] = sign(body, settings().webhook_secret)
    try:
        response = httpx.post(
            found["callback_url"], content=body, headers=headers, timeout=settings().webhook_timeout_s
        )
    except httpx.HTTPError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise self.retry(countdown=backoff_seconds(self.request.retries))
    collection.update_one(
        {"_id": object_id},
        {"$set": {"webhook": {"event_id": stable_id, "status_code": response.status_code, "at": utcnow()}}},
    )
