"""The control panel's read model: routing, queue depths, workers online, recent turns and batches.

Built from what is already kept (Redis lists per queue, the STT switch, the worker census, the jobs
and batches collections); nothing here writes.
"""

from datetime import UTC, datetime
from typing import Any

import redis

from pipelines.job_views import per_segment_timing
from pipelines.queues import WORKER_POOLS, Queue
from pipelines.settings import Settings
from pipelines.storage import Storage
from pipelines.stt_routing import SttRouter
from pipelines.worker_census import OTHER_POOL, Census, is_gpu_pool
from schemas.batches import BatchProgress
from schemas.control_status import (
    BatchSummary,
    ControlLinks,
    ControlStatus,
    Device,
    JobSummary,
    PoolStatus,
    QueueStatus,
    SttRouting,
)
from schemas.jobs import JobStatus, StageTiming

ENDED = {JobStatus.completed.value, JobStatus.failed.value, JobStatus.interrupted.value}
PER_SEGMENT_STAGES = ("tts", "animation")


def control_status(
    settings: Settings, client: redis.Redis, router: SttRouter, census: Census, *, docs_url: str
) -> ControlStatus:
    with client.pipeline(transaction=False) as pipe:
        for queue in Queue:
            pipe.llen(queue.value)
        depths = pipe.execute()
    queues = [
        QueueStatus(name=queue.value, depth=int(depth), workers=census.workers_on(queue.value))
        for queue, depth in zip(Queue, depths, strict=True)
    ]
    pools = [
        PoolStatus(
            pool=pool,
            device=Device.gpu if is_gpu_pool(pool) else Device.cpu,
            queues=[q.value for q in pool_queues],
            workers=census.workers_in(pool),
        )
        for pool, pool_queues in WORKER_POOLS.items()
    ]
    strays = census.workers_in(OTHER_POOL)
    if strays:
        stray_queues = sorted({q for w in strays for q in census.queues_by_worker[w]})
        pools.append(PoolStatus(pool=OTHER_POOL, device=Device.cpu, queues=stray_queues, workers=strays))
    return ControlStatus(
        stt=SttRouting(
            mode=router.mode().value,
            routes_to=Device.gpu if router.use_gpu() else Device.cpu,
            gpu_workers=router.gpu_workers(),
        ),
        queues=queues,
        pools=pools,
        workers_checked=census.answered,
        links=ControlLinks(docs=docs_url, flower=settings.flower_url, grafana=settings.grafana_url),
        checked_at=datetime.now(UTC),
    )


def recent_jobs(storage: Storage, *, limit: int, status: JobStatus | None = None) -> list[JobSummary]:
    """The newest turns of every session, with per-stage timings, in two queries."""
    query: dict[str, Any] = {} if status is None else {"status": status.value}
    jobs = list(storage.jobs.find(query).sort("created_at", -1).limit(limit))
    attempts = {job["_id"]: int(job.get("llm_attempt") or 0) for job in jobs}
    segments: dict[str, list[dict[str, Any]]] = {job_id: [] for job_id in attempts}
    if attempts:
        found = storage.segments.find(
            {"job_id": {"$in": list(attempts)}}, {"job_id": 1, "attempt": 1, "timings": 1}
        )
        for segment in found:
            if segment.get("attempt") == attempts[segment["job_id"]]:
                segments[segment["job_id"]].append(segment)
    return [job_summary(job, segments[job["_id"]]) for job in jobs]


def job_summary(job: dict[str, Any], segments: list[dict[str, Any]]) -> JobSummary:
    timings = {name: StageTiming(**value) for name, value in (job.get("timings") or {}).items()}
    for stage in PER_SEGMENT_STAGES:
        timing = per_segment_timing(segments, stage)
        if timing is not None:
            timings[stage] = timing
    heard = (job.get("transcript") or {}).get("text")
    ended = job["status"] in ENDED
    return JobSummary(
        id=job["_id"],
        session_id=job.get("session_id"),
        kind=job["kind"],
        status=job["status"],
        stage=job.get("stage"),
        input_text=job.get("input_text") or heard,
        reply_text=(job.get("reply") or {}).get("text") or None,
        segments_total=job.get("segments_total"),
        timings=timings,
        total_s=round((job["updated_at"] - job["created_at"]).total_seconds(), 3) if ended else None,
        error=job.get("error"),
        created_at=job["created_at"],
        updated_at=job["updated_at"],
    )


def recent_batches(storage: Storage, *, limit: int) -> list[BatchSummary]:
    batches = storage.batches.find({}, {"options": 0}).sort("created_at", -1).limit(limit)
    return [
        BatchSummary(
            id=batch["_id"],
            status=batch["status"],
            progress=BatchProgress(
                files_total=batch["files_total"],
                files_done=batch["files_done"],
                files_failed=batch["files_failed"],
            ),
            created_at=batch["created_at"],
            updated_at=batch["updated_at"],
            completed_at=batch.get("completed_at"),
        )
        for batch in batches
    ]
