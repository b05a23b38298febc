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
from pipelines.jobs import mark_segment_ready, utcnow
from pipelines.logging_setup import bind
from pipelines.segments import active_segment, update_known_segment
from pipelines.stages.completion import complete_if_done
from pipelines.stages.context import StageContext
from schemas.animation import AnimationTrack
from schemas.events import EventType

Phonemizer = Callable[[str], list[str]]


def animate_segment(ctx: StageContext, phonemize: Phonemizer, job_id: str, attempt: int, index: int) -> None:
    found = active_segment(ctx.storage, job_id, attempt, index)
    if found is None:
        return  # the job ended, or a newer LLM attempt replaced this segment
    job, segment = found
    bind(session_id=job["session_id"])
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
    latest = mark_segment_ready(ctx.storage, job_id, attempt, index)
    if latest is None:
        return  # the job ended, or a newer attempt replaced this one
    if announce:
        ctx.events.emit(
            EventType.segment_animation_ready,
            job,
            attempt=attempt,
            segment=segment_out(ctx.settings, segment),
        )
    complete_if_done(ctx, latest)


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
