"""The notify queue: deliver signed webhooks with retries, never blocking a pipeline stage."""

import httpx
from celery import Task

from pipelines.queues import TaskName
from pipelines.webhooks import SIGNATURE_HEADER, encode_event, sign
from workers.runtime import app, settings, storage
from workers.tasks.base import backoff_seconds


def event_for(kind: str, object_id: str) -> tuple[str, str | None, dict[str, object]] | None:
    store = storage()
    if kind == "job":
        job = store.jobs.find_one({"_id": object_id})
        if job is None:
            return None
        data = {
            "job_id": object_id,
            "status": job["status"],
            "session_id": job["session_id"],
            "reply": job.get("reply"),
            "error": job.get("error"),
        }
        return f"job.{job['status']}", job.get("callback_url"), data
    batch = store.batches.find_one({"_id": object_id})
    if batch is None:
        return None
    data = {
        "batch_id": object_id,
        "status": batch["status"],
        "files_total": batch["files_total"],
        "files_done": batch["files_done"],
        "files_failed": batch["files_failed"],
    }
    return f"transcription.{batch['status']}", batch.get("callback_url"), data


@app.task(name=TaskName.deliver_webhook, bind=True, max_retries=settings().webhook_max_attempts)
def deliver_webhook(self: Task, kind: str, object_id: str) -> None:
    found = event_for(kind, object_id)
    if found is None:
        return
    event, target, data = found
    if not target:
        return
    body = encode_event(event, data)
    headers = {"Content-Type": "application/json", "X-VTuber-Event": event}
    if settings().webhook_secret:
        headers[SIGNATURE_HEADER] = sign(body, settings().webhook_secret)
    try:
        response = httpx.post(target, content=body, headers=headers, timeout=settings().webhook_timeout_s)
    except httpx.HTTPError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise self.retry(countdown=backoff_seconds(self.request.retries))
