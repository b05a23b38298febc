"""The sweep: no job or batch file stays unfinished forever, and no owed follow-up is forgotten.

For each unfinished job idle for ``recovery_idle_s``:
- every segment ready, but never completed (its completer died) → complete it now;
- a message for it still waits in a queue or is unacked (inflight.py) → it is queued behind a
  backlog or running: leave it;
- otherwise its message is lost (Redis lost it, or a hard time limit killed the task and acked
  it) → send its next stage again, which is safe because every stage is idempotent; after
  ``recovery_max_redispatches`` re-sends it fails with ``stage_timeout``.
A live turn older than ``job_deadline_s`` fails with ``stage_timeout`` whatever its state.
Batch files follow the same rules, with their lease (batches.start_file) in place of idleness.
Finished jobs and batches whose follow-ups are still owed get them done (followups.py).
"""

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from pipelines.batches import OPEN_BATCH, OPEN_FILE, fail_batch_file
from pipelines.followups import fail_and_follow_up, run_batch_followups, run_job_followups
from pipelines.inflight import InFlight
from pipelines.jobs import ACTIVE, FINISHED, utcnow
from pipelines.segments import list_segments
from pipelines.stages.completion import all_segments_ready, complete_and_follow_up
from pipelines.stages.context import StageContext
from pipelines.verbatim import ANNOUNCING, release_held_lines
from schemas.batches import FileStatus
from schemas.errors import ErrorCode
from schemas.jobs import JobKind, Stage


def redispatch_job(ctx: StageContext, job: dict[str, Any]) -> str:
    """Send the job's next stage; returns which (for logs and tests)."""
    job_id = job["_id"]
    if job["kind"] == JobKind.audio and job.get("transcript") is None:
        ctx.dispatcher.transcribe_utterance(job_id)
        return "stt"
    if not (job.get("reply") or {}).get("done"):
        ctx.dispatcher.reply(job_id)
        return "llm"
    attempt = int(job["llm_attempt"])
    for segment in list_segments(ctx.storage, job_id, attempt):
        if segment.get("audio_id") is None:
            ctx.dispatcher.synthesize(job_id, attempt, segment["index"])
        elif not segment.get("ready"):
            ctx.dispatcher.animate(job_id, attempt, segment["index"])
    return "segments"


def recover_stalled(ctx: StageContext, inflight: InFlight, *, now: datetime | None = None) -> dict[str, int]:
    """One sweep; ``inflight`` is the broker's snapshot taken just before. Returns what it did."""
    now = now or utcnow()
    done: Counter[str] = Counter()
    for job in ctx.storage.jobs.find({"status": {"$in": ACTIVE}}):
        done[sweep_job(ctx, job, inflight, now)] += 1
    for job in ctx.storage.jobs.find(
        {
            "status": {"$in": FINISHED},
            "followups.0": {"$exists": True},
            "updated_at": {"$lt": idle_cutoff(ctx, now)},
        }
    ):
        run_job_followups(ctx, job)
        done["followups"] += 1
    for batch in ctx.storage.batches.find({"status": {"$in": OPEN_BATCH}}):
        for doc in ctx.storage.batch_files.find({"batch_id": batch["_id"], "status": {"$in": OPEN_FILE}}):
            done[sweep_file(ctx, batch, doc, inflight, now)] += 1
    # As for jobs: only follow-ups left idle, or the sweep races the finisher that is doing them
    # (a batch's webhook was sent twice, each as attempt 1).
    for batch in ctx.storage.batches.find(
        {
            "status": {"$nin": OPEN_BATCH},
            "followups.0": {"$exists": True},
            "updated_at": {"$lt": idle_cutoff(ctx, now)},
        }
    ):
        run_batch_followups(ctx, batch)
        done["followups"] += 1
    done.pop("idle", None)
    return dict(done)


def idle_cutoff(ctx: StageContext, now: datetime) -> datetime:
    return now - timedelta(seconds=ctx.settings.recovery_idle_s)


def sweep_job(ctx: StageContext, job: dict[str, Any], inflight: InFlight, now: datetime) -> str:
    settings = ctx.settings
    job_id = job["_id"]
    if job["created_at"] < now - timedelta(seconds=settings.job_deadline_s):
        give_up(ctx, job, f"the turn did not finish within {settings.job_deadline_s:.0f} s")
        return "failed"
    if job["updated_at"] >= idle_cutoff(ctx, now):
        return "idle"  # recently active: nothing to judge yet
    if job.get("held"):  # a verbatim line waiting for its turn: release it if that came unnoticed
        return "released" if release_stalled_line(ctx, job) else "held"
    if all_segments_ready(ctx, job):
        complete_and_follow_up(ctx, job_id, int(job["llm_attempt"]))
        return "completed"
    if job_id in inflight.jobs:
        return "waiting"  # behind a backlog, running, or waiting for a retry
    if int(job.get("recoveries") or 0) >= settings.recovery_max_redispatches:
        give_up(ctx, job, f"its work was lost {job.get('recoveries')} times (stage {job.get('stage')})")
        return "failed"
    redispatch_job(ctx, job)
    ctx.storage.jobs.update_one(
        {"_id": job_id, "status": {"$in": ACTIVE}}, {"$set": {"updated_at": now}, "$inc": {"recoveries": 1}}
    )
    return "redispatched"


def release_stalled_line(ctx: StageContext, job: dict[str, Any]) -> bool:
    """A line still being announced this long after its submit lost its API process: announced or
    not, it may go; then release the session's lines whose turn has come. Whether this one went."""
    ctx.storage.jobs.update_one({"_id": job["_id"], "held": ANNOUNCING}, {"$set": {"held": True}})
    session_id = job.get("session_id")
    release_held_lines(ctx.storage, ctx.dispatcher, session_id, only=None if session_id else job["_id"])
    return not ctx.storage.jobs.count_documents({"_id": job["_id"], "held": True}, limit=1)


def give_up(ctx: StageContext, job: dict[str, Any], why: str) -> None:
    stage = Stage(job["stage"]) if job.get("stage") else None
    fail_and_follow_up(ctx, job["_id"], code=ErrorCode.stage_timeout, message=why, stage=stage)


def sweep_file(
    ctx: StageContext, batch: dict[str, Any], doc: dict[str, Any], inflight: InFlight, now: datetime
) -> str:
    if (batch["_id"], doc["index"]) in inflight.batch_files:
        return "waiting"
    if doc["status"] == FileStatus.running.value:
        if doc["lease_until"] >= now:
            return "idle"  # its worker is still within its time limit
    elif batch["updated_at"] >= idle_cutoff(ctx, now):
        return "idle"
    if int(doc.get("recoveries") or 0) >= ctx.settings.recovery_max_redispatches:
        fail_batch_file(
            ctx,
            batch["_id"],
            doc["index"],
            code=ErrorCode.stage_timeout,
            message=f"its work was lost {doc.get('recoveries')} times",
        )
        return "failed"
    ctx.dispatcher.transcribe_file(batch["_id"], doc["index"], audio_s=float(doc.get("duration_s") or 0))
    ctx.storage.batch_files.update_one({"_id": doc["_id"]}, {"$inc": {"recoveries": 1}})
    ctx.storage.batches.update_one({"_id": batch["_id"]}, {"$set": {"updated_at": now}})
    return "redispatched"
