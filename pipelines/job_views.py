"""Stored job and segment documents → the views clients see (polling, history, events).

Shared by the API (job views) and the workers (the segment carried by each progress event), so a
segment reads the same whichever way it reaches a client.
"""

from collections import defaultdict
from typing import Any

from pipelines.settings import Settings
from pipelines.storage import Storage
from pipelines.urls import audio_url
from schemas.jobs import JobOut, SegmentOut, StageTiming


def segment_out(settings: Settings, doc: dict[str, Any]) -> SegmentOut:
    return SegmentOut(
        index=doc["index"],
        text=doc["text"],
        emotion=doc.get("emotion", "neutral"),
        motions=doc.get("motions") or [],
        audio_id=doc.get("audio_id"),
        audio_url=audio_url(settings, doc["audio_id"]) if doc.get("audio_id") else None,
        audio_format=doc.get("audio_format"),
        sample_rate=doc.get("sample_rate"),
        duration_s=doc.get("duration_s"),
        animation=doc.get("animation"),
        ready=bool(doc.get("ready")),
        timings={stage: StageTiming(**span) for stage, span in (doc.get("timings") or {}).items()},
    )


def per_segment_timing(segments: list[dict[str, Any]], stage: str) -> StageTiming | None:
    """tts and animation run once per segment: report first start, last finish, summed work."""
    spans = [s["timings"][stage] for s in segments if stage in (s.get("timings") or {})]
    if not spans:
        return None
    return StageTiming(
        started_at=min(span["started_at"] for span in spans),
        finished_at=max(span["finished_at"] for span in spans),
        seconds=round(sum(span["seconds"] for span in spans), 4),
    )


def job_out(
    settings: Settings, job: dict[str, Any], segments: list[dict[str, Any]], *, version: str | None = None
) -> JobOut:
    """The job as clients see it; ``segments`` are its current attempt's, in order."""
    timings = {name: StageTiming(**value) for name, value in (job.get("timings") or {}).items()}
    for stage in ("tts", "animation"):
        timing = per_segment_timing(segments, stage)
        if timing is not None:
            timings[stage] = timing
    return JobOut(
        id=job["_id"],
        session_id=job["session_id"],
        kind=job["kind"],
        status=job["status"],
        stage=job.get("stage"),
        persona=job["persona"],
        persona_version=job["persona_version"],
        input_text=job.get("input_text"),
        transcript=job.get("transcript"),
        reply=job.get("reply"),
        segments=[segment_out(settings, s) for s in segments],
        segments_total=job.get("segments_total"),
        timings=timings,
        error=job.get("error"),
        interruption=job.get("interruption"),
        command=job.get("command"),
        created_at=job["created_at"],
        updated_at=job["updated_at"],
        version=version,
    )


def load_job_views(storage: Storage, settings: Settings, jobs: list[dict[str, Any]]) -> list[JobOut]:
    """Views of many jobs with one segments query for all of them (no per-job lookups)."""
    if not jobs:
        return []
    attempts = {job["_id"]: int(job.get("llm_attempt") or 0) for job in jobs}
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for segment in storage.segments.find({"job_id": {"$in": list(attempts)}}):
        if segment["attempt"] == attempts[segment["job_id"]]:  # older attempts are being dropped
            by_job[segment["job_id"]].append(segment)
    return [job_out(settings, job, sorted(by_job[job["_id"]], key=lambda s: s["index"])) for job in jobs]
