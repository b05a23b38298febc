"""Batch transcription records: a batch document plus one document per file.

Each file finishes exactly once (a conditional update on its status); that transition, and only
that one, bumps the batch's counters, so redelivered tasks never double-count progress.
"""

from datetime import timedelta
from typing import Any

from pipelines.followups import run_batch_followups
from pipelines.jobs import FOLLOWUP_WEBHOOK, new_id, utcnow
from pipelines.metrics import BATCH_FILES, BATCHES_FINISHED
from pipelines.stages.context import StageContext
from pipelines.storage import Storage, update_and_read
from schemas.batches import BatchOptions, BatchStatus, FileStatus
from schemas.errors import ErrorCode

OPEN_FILE = [FileStatus.queued.value, FileStatus.running.value]
OPEN_BATCH = [BatchStatus.queued.value, BatchStatus.running.value]


def file_id(batch_id: str, index: int) -> str:
    return f"{batch_id}:{index}"


def create_batch(
    storage: Storage,
    *,
    options: BatchOptions,
    files: list[tuple[str, str, float]],
    callback_url: str | None,
    owner: str | None = None,
) -> dict[str, Any]:
    """``files`` are (filename, stored audio id, duration in seconds); ``owner`` the API key id."""
    now = utcnow()
    batch: dict[str, Any] = {
        "_id": new_id(),
        "owner": owner,
        "status": BatchStatus.queued.value,
        "options": options.model_dump(),
        "files_total": len(files),
        "files_done": 0,
        "files_failed": 0,
        "callback_url": callback_url,
        "created_at": now,
        "updated_at": now,
        "completed_at": None,
    }
    storage.batch_files.insert_many(
        [
            {
                "_id": file_id(batch["_id"], index),
                "batch_id": batch["_id"],
                "index": index,
                "filename": filename,
                "audio_id": audio_id,
                "duration_s": duration,
                "status": FileStatus.queued.value,
                "transcript": None,
                "error": None,
            }
            for index, (filename, audio_id, duration) in enumerate(files)
        ]
    )
    storage.journaled(storage.batches).insert_one(batch)  # also flushes the files before it
    return batch


def start_file(storage: Storage, batch_id: str, index: int, *, lease_s: float) -> dict[str, Any] | None:
    """Claim a file for ``lease_s`` seconds; None when it finished or another worker holds it.

    A file may run longer than the broker's visibility timeout, so its message can be delivered
    again while the first worker is still at it: the lease makes that second delivery a no-op.
    An expired lease means its worker died; the next delivery (or the sweep) claims it again,
    and ``claims`` counts how often that happened.
    """
    now = utcnow()
    doc = update_and_read(
        storage.batch_files,
        {
            "_id": file_id(batch_id, index),
            "$or": [
                {"status": FileStatus.queued.value},
                {"status": FileStatus.running.value, "lease_until": {"$lt": now}},
            ],
        },
        {
            "$set": {
                "status": FileStatus.running.value,
                "started_at": now,
                "lease_until": now + timedelta(seconds=lease_s),
            },
            "$inc": {"claims": 1},
        },
    )
    if doc is not None:
        storage.batches.update_one(
            {"_id": batch_id, "status": BatchStatus.queued.value},
            {"$set": {"status": BatchStatus.running.value, "updated_at": now}},
        )
    return doc


def finish_file(
    ctx: StageContext, batch_id: str, index: int, fields: dict[str, Any], *, failed: bool
) -> None:
    status = FileStatus.failed if failed else FileStatus.completed
    result = ctx.storage.batch_files.update_one(
        {"_id": file_id(batch_id, index), "status": {"$in": OPEN_FILE}},
        {"$set": {**fields, "status": status.value, "finished_at": utcnow()}},
    )
    if result.modified_count != 1:
        return
    BATCH_FILES.labels(status.value).inc()
    counter = "files_failed" if failed else "files_done"
    batch = update_and_read(
        ctx.storage.batches, {"_id": batch_id}, {"$inc": {counter: 1}, "$set": {"updated_at": utcnow()}}
    )
    if batch and batch["files_done"] + batch["files_failed"] >= batch["files_total"]:
        final = BatchStatus.failed if batch["files_done"] == 0 else BatchStatus.completed
        closed = update_and_read(
            ctx.storage.batches,
            {"_id": batch_id, "status": {"$in": OPEN_BATCH}},
            {"$set": {"status": final.value, "completed_at": utcnow(), "followups": [FOLLOWUP_WEBHOOK]}},
        )
        if closed is not None:
            BATCHES_FINISHED.labels(final.value).inc()
            run_batch_followups(ctx, closed)


def fail_batch_file(ctx: StageContext, batch_id: str, index: int, *, code: ErrorCode, message: str) -> None:
    finish_file(ctx, batch_id, index, {"error": {"code": code.value, "message": message}}, failed=True)
