"""Lip sync and expression for one segment: its audio and phonemes → an AnimationTrack."""

import io
import time
from collections.abc import Callable

import numpy as np
import soundfile

from pipelines.animation.track import build_animation_track
from pipelines.audio_types import PhonemeTiming
from pipelines.jobs import utcnow
from pipelines.segments import active_segment, get_segment, update_segment
from pipelines.stages.completion import complete_if_done
from pipelines.stages.context import StageContext

Phonemizer = Callable[[str], list[str]]


def animate_segment(ctx: StageContext, phonemize: Phonemizer, job_id: str, attempt: int, index: int) -> None:
    found = active_segment(ctx.storage, job_id, attempt, index)
    if found is None:
        return  # the job ended, or a newer LLM attempt replaced this segment
    _, segment = found
    if not segment.get("ready"):
        started_at = utcnow()
        started = time.perf_counter()
        samples, sample_rate = soundfile.read(
            io.BytesIO(ctx.storage.read_audio(segment["audio_id"])), dtype="float32", always_2d=False
        )
        timings = segment.get("phonemes")
        phonemes = [PhonemeTiming(p, float(s), float(e)) for p, s, e in timings] if timings else None
        text_phonemes = segment.get("text_phonemes")
        previous = get_segment(ctx.storage, job_id, attempt, index - 1) if index > 0 else None
        if phonemes is None and not text_phonemes:
            text_phonemes = phonemize(segment["text"])
        track = build_animation_track(
            samples=np.asarray(samples, dtype=np.float32),
            sample_rate=int(sample_rate),
            phonemes=phonemes,
            text_phonemes=text_phonemes,
            emotion=segment["emotion"],
            motions=list(segment.get("motions") or []),
            seed=index,
            previous_emotion=previous["emotion"] if previous else None,
            final=bool(segment.get("final", True)),
        )
        update_segment(
            ctx.storage,
            job_id,
            attempt,
            index,
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
    complete_if_done(ctx, job_id)
