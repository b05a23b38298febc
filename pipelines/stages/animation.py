"""Lip sync and expression for one segment: its phonemes (or its audio) → an AnimationTrack.

The audio is read back only for engines without phoneme timings (the energy method needs the
samples); with timings the stored duration is all the track needs.
"""

import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import soundfile

from pipelines.animation.track import build_animation_track
from pipelines.audio_types import PhonemeTiming
from pipelines.job_views import segment_out
from pipelines.jobs import utcnow
from pipelines.logging_setup import bind
from pipelines.segment_work import SegmentWork, turn_and_segment
from pipelines.segments import update_known_segment
from pipelines.stages.completion import complete_when_ready
from pipelines.stages.context import StageContext
from pipelines.turn_state import REPLY_OPEN, record_ready, reply_total
from schemas.animation import AnimationTrack
from schemas.events import EventType

Phonemizer = Callable[[str], list[str]]


def animate_segment(
    ctx: StageContext,
    phonemize: Phonemizer,
    job_id: str,
    attempt: int,
    index: int,
    work: SegmentWork | None = None,
) -> None:
    """``work``: the turn and the segment as the tts stage left them (None: read from MongoDB)."""
    found = turn_and_segment(ctx.storage, ctx.events.client, job_id, attempt, index, work)
    if found is None:
        return  # the job ended, or a newer LLM attempt replaced this segment
    job, segment = found
    bind(session_id=job["session_id"])
    if work is not None and not segment.get("final"):
        segment = {**segment, "final": is_last(ctx, job_id, attempt, index)}
    announce = not segment.get("ready")
    if announce:
        started_at = utcnow()
        started = time.perf_counter()
        track = build_track(ctx, phonemize, segment)
        updated = update_known_segment(
            ctx.storage,
            segment,
            {
                "animation": track.model_dump(mode="json"),
                "ready": True,
                "timings.animation": {
                    "started_at": started_at,
                    "finished_at": utcnow(),
                    "seconds": round(time.perf_counter() - started, 4),
                },
            },
        )
        if updated is None:
            return  # dropped by a newer attempt meanwhile
        segment = updated
    ready, total = record_ready(ctx.events.client, job_id, attempt, index)
    if announce:
        ctx.events.emit(
            EventType.segment_animation_ready,
            job,
            attempt=attempt,
            segment=segment_out(ctx.settings, segment),
        )
    complete_when_ready(ctx, job_id, attempt, ready=ready, total=total)


def is_last(ctx: StageContext, job_id: str, attempt: int, index: int) -> bool:
    """Whether the segment turned out to be the reply's last (its message was sent before the
    reply ended): its expression fades out instead of holding for the next sentence."""
    total = reply_total(ctx.events.client, job_id, attempt)
    return total is not None and total != REPLY_OPEN and index == total - 1


def build_track(ctx: StageContext, phonemize: Phonemizer, segment: dict[str, Any]) -> AnimationTrack:
    timings = segment.get("phonemes")
    phonemes = [PhonemeTiming(p, float(s), float(e)) for p, s, e in timings] if timings else None
    text_phonemes = segment.get("text_phonemes")
    if phonemes:
        rate = int(segment["sample_rate"])
        samples = np.zeros(round(float(segment["duration_s"]) * rate), np.float32)  # length only
    else:
        data, rate = soundfile.read(
            io.BytesIO(ctx.storage.read_audio(segment["audio_id"])), dtype="float32", always_2d=False
        )
        samples = np.asarray(data, dtype=np.float32)
        text_phonemes = text_phonemes or phonemize(segment["text"])
    return build_animation_track(
        samples=samples,
        sample_rate=int(rate),
        phonemes=phonemes,
        text_phonemes=text_phonemes,
        emotion=segment["emotion"],
        motions=list(segment.get("motions") or []),
        seed=int(segment["index"]),
        previous_emotion=segment.get("previous_emotion"),
        final=bool(segment.get("final", True)),
    )
