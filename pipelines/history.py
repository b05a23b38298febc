"""A session's history, page by page: a fixed number of queries per page whatever its size
(the turns, then their segments and their feedback, each in one ``$in`` query)."""

from collections import defaultdict
from typing import Any

from pipelines.feedback import feedback_out
from pipelines.job_views import per_segment_timing
from pipelines.paging import NEWEST_FIRST, older_than, page_of
from pipelines.settings import Settings
from pipelines.storage import Storage
from pipelines.urls import audio_url
from schemas.feedback import FeedbackOut
from schemas.history import HistoryPage, HistoryTurn, ModelUsed, SpokenSegment, TurnModels
from schemas.jobs import JobStatus, StageTiming

# What a history turn needs of a segment: its animation track (the bulk of it) stays behind.
SEGMENT_FIELDS = {"job_id": 1, "attempt": 1, "index": 1, "text": 1, "emotion": 1, "audio_id": 1}
SEGMENT_FIELDS |= {"duration_s": 1, "timings": 1, "tts_backend": 1, "tts_model": 1}

# Asked for in one batch (MongoDB's first batch is otherwise 101 documents, and a getMore more
# per 101 would make a page's cost grow with its size); a page's segments are small without tracks.
ONE_BATCH = 100_000


def session_history(
    storage: Storage, settings: Settings, session_id: str, *, limit: int, cursor: str | None
) -> HistoryPage:
    """Newest first; raises ``paging.BadCursor`` for a cursor this API did not hand out."""
    query = {"session_id": session_id, **older_than(cursor)}
    jobs, next_cursor = page_of(list(storage.jobs.find(query).sort(NEWEST_FIRST).limit(limit + 1)), limit)
    return HistoryPage(turns=history_turns(storage, settings, jobs), next_cursor=next_cursor)


def history_turns(storage: Storage, settings: Settings, jobs: list[dict[str, Any]]) -> list[HistoryTurn]:
    if not jobs:
        return []
    ids = [job["_id"] for job in jobs]
    attempts = {job["_id"]: int(job.get("llm_attempt") or 0) for job in jobs}
    segments: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for segment in storage.segments.find({"job_id": {"$in": ids}}, SEGMENT_FIELDS).batch_size(ONE_BATCH):
        if segment["attempt"] == attempts[segment["job_id"]]:
            segments[segment["job_id"]].append(segment)
    feedback: dict[str, list[FeedbackOut]] = defaultdict(list)
    for doc in storage.feedback.find({"job_id": {"$in": ids}}).sort("created_at", 1).batch_size(ONE_BATCH):
        feedback[doc["job_id"]].append(feedback_out(doc))
    return [
        history_turn(
            settings, job, sorted(segments[job["_id"]], key=lambda s: s["index"]), feedback[job["_id"]]
        )
        for job in jobs
    ]


def history_turn(
    settings: Settings, job: dict[str, Any], segments: list[dict[str, Any]], feedback: list[FeedbackOut]
) -> HistoryTurn:
    transcript = job.get("transcript") or {}
    reply = job.get("reply") or {}
    interruption = job.get("interruption")
    return HistoryTurn(
        job_id=job["_id"],
        kind=job["kind"],
        status=job["status"],
        viewer_id=job.get("viewer_id"),
        viewer_name=job.get("viewer_name"),
        persona=job["persona"],
        persona_version=job["persona_version"],
        user_text=job.get("input_text") or transcript.get("text"),
        input_audio_url=audio_url(settings, job["input_audio_id"]) if job.get("input_audio_id") else None,
        transcript_language=transcript.get("language"),
        # An interrupted reply is what the listener heard of it (what the context remembers too).
        reply=interruption["heard_text"] if interruption else reply.get("text"),
        emotion=reply.get("emotion"),
        motions=reply.get("motions") or [],
        segments=[
            SpokenSegment(
                index=s["index"],
                text=s["text"],
                emotion=s.get("emotion", "neutral"),
                audio_url=audio_url(settings, s["audio_id"]) if s.get("audio_id") else None,
                duration_s=s.get("duration_s"),
            )
            for s in segments
        ],
        interrupted=job["status"] == JobStatus.interrupted.value,
        interruption=interruption,
        error=job.get("error"),
        models=turn_models(job, segments),
        timings=turn_timings(job, segments),
        feedback=feedback,
        created_at=job["created_at"],
    )


def turn_models(job: dict[str, Any], segments: list[dict[str, Any]]) -> TurnModels:
    transcript = job.get("transcript") or {}
    llm = (job.get("models") or {}).get("llm")
    tts = next((s for s in segments if s.get("tts_backend")), None)
    return TurnModels(
        stt=ModelUsed(backend=transcript.get("backend", ""), model=transcript.get("model", ""))
        if transcript
        else None,
        llm=ModelUsed(**llm) if llm else None,
        tts=ModelUsed(backend=tts["tts_backend"], model=tts.get("tts_model") or "") if tts else None,
    )


def turn_timings(job: dict[str, Any], segments: list[dict[str, Any]]) -> dict[str, StageTiming]:
    timings = {name: StageTiming(**value) for name, value in (job.get("timings") or {}).items()}
    for stage in ("tts", "animation"):
        if (timing := per_segment_timing(segments, stage)) is not None:
            timings[stage] = timing
    return timings
