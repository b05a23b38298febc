"""Speech for one reply segment: text → wav in GridFS, announced at once, then its animation.

The first audio is what the viewer waits for, so the order is: synthesize, store the wav, mark the
segment, announce it, send the animation task. The Ogg/Opus copy for browsers is made by the API
on its first request (api/routes/audio.py), never here: most clients play the wav, and encoding
plus a second upload per segment cost the voice worker more than the synthesis of a short line.

A streaming engine voices a reply's first segment through pipelines/first_audio.py: its start is
stored and announced (``segment.audio_started``) while the rest is still being synthesized.
"""

import time
from typing import Any

from pipelines.audio_codec import encode_audio
from pipelines.audio_types import SynthesizedSpeech
from pipelines.backends import SpeechSynthesizer, StreamingSpeechSynthesizer
from pipelines.first_audio import FirstAudio, record_first_audio
from pipelines.interrupts import is_cancelled
from pipelines.job_views import segment_out
from pipelines.jobs import utcnow
from pipelines.logging_setup import bind
from pipelines.personas import get_persona
from pipelines.segment_work import SegmentWork, segment_work, turn_and_segment
from pipelines.segments import delete_segment_speech, speech_file_name, update_known_segment
from pipelines.stages.context import StageContext
from schemas.events import EventType


def synthesize_segment(
    ctx: StageContext,
    tts: SpeechSynthesizer,
    job_id: str,
    attempt: int,
    index: int,
    work: SegmentWork | None = None,
) -> None:
    """``work``: the turn and the segment as the LLM stage wrote them (None: read from MongoDB)."""
    found = turn_and_segment(ctx.storage, ctx.events.client, job_id, attempt, index, work)
    if found is None:
        return  # the job ended, or a newer LLM attempt replaced this segment
    job, segment = found
    bind(session_id=job["session_id"])
    speech = None
    if segment.get("audio_id") is None:
        started_at = utcnow()
        started = time.perf_counter()
        persona, first_audio = get_persona(job["persona"]), None
        if index == 0 and isinstance(tts, StreamingSpeechSynthesizer) and tts.streaming:
            first_audio = FirstAudio(ctx, job, segment, backend=tts.name)
            speech = tts.stream(
                segment["text"], persona=persona, emotion=segment["emotion"], on_chunk=first_audio
            )
        else:
            speech = tts.synthesize(segment["text"], persona=persona, emotion=segment["emotion"])
        seconds = time.perf_counter() - started
        if is_cancelled(ctx.events.client, job_id):
            return  # interrupted while we spoke: this audio is never heard
        wav_id = ctx.storage.replace_audio(
            encode_audio(speech.samples, speech.sample_rate, "wav"),
            filename=speech_file_name(job_id, attempt, index, "wav"),
            content_type="audio/wav",
            metadata={
                **audio_metadata(job, index, speech, tts.name),
                "format": "wav",
            },
        )
        updated = update_known_segment(
            ctx.storage,
            segment,
            {
                "audio_id": wav_id,
                "audio_format": "wav",
                "tts_backend": tts.name,  # history shows which voice engine spoke it
                "sample_rate": speech.sample_rate,
                "duration_s": round(speech.duration_s, 4),
                "phonemes": [[p.phoneme, p.start_s, p.end_s] for p in speech.phonemes]
                if speech.phonemes
                else None,
                "text_phonemes": speech.text_phonemes,
                "timings.tts": {
                    "started_at": started_at,
                    "finished_at": utcnow(),
                    "seconds": round(seconds, 4),
                },
            },
        )
        if updated is None:  # dropped by a newer attempt meanwhile: so is what we just stored
            delete_segment_speech(ctx.storage, job_id, attempt, index)
            if first_audio is not None:
                first_audio.discard()
            return
        segment = updated
        if index == 0 and not (first_audio and first_audio.stored):
            record_first_audio(job, tts.name)
    if not segment.get("ready"):
        ctx.events.emit(
            EventType.segment_audio_ready, job, attempt=attempt, segment=segment_out(ctx.settings, segment)
        )
    ctx.dispatcher.animate(job_id, attempt, index, work=segment_work(job, segment))


def audio_metadata(
    job: dict[str, Any], index: int, speech: SynthesizedSpeech, backend: str
) -> dict[str, object]:
    return {
        "job_id": job["_id"],
        "owner": job.get("owner"),
        "segment": index,
        "sample_rate": speech.sample_rate,
        "duration_s": speech.duration_s,
        "backend": backend,
    }
