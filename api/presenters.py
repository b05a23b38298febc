"""Turn stored documents into the API's response models."""

from typing import Any

from api.urls import audio_url
from pipelines.segments import list_segments
from pipelines.settings import Settings
from pipelines.storage import Storage
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


def job_out(storage: Storage, settings: Settings, job: dict[str, Any]) -> JobOut:
    segments = list_segments(storage, job["_id"], int(job.get("llm_attempt") or 0))
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
        created_at=job["created_at"],
        updated_at=job["updated_at"],
    )
