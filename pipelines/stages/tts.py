"""Speech for one reply segment: text → wav in GridFS, announced at once; the ogg/opus copy follows.

The first audio is what the viewer waits for, so the order is: synthesize, store the wav, mark the
segment, announce it, send the animation task, and only then encode the browser copy.
"""

import logging
import time
from typing import Any

from pipelines.audio_codec import AudioEncodeError, encode_audio
from pipelines.audio_types import SynthesizedSpeech
from pipelines.backends import SpeechSynthesizer
from pipelines.interrupts import is_cancelled
from pipelines.job_views import segment_out
from pipelines.jobs import mark_segment_encoded, utcnow
from pipelines.logging_setup import bind
from pipelines.metrics import TIME_TO_FIRST_AUDIO_SECONDS, seconds_since
from pipelines.personas import get_persona
from pipelines.segments import (
    active_segment,
    delete_segment_speech,
    get_segment,
    speech_file_name,
    update_known_segment,
)
from pipelines.stages.completion import complete_if_done
from pipelines.stages.context import StageContext
from schemas.events import EventType

log = logging.getLogger(__name__)


def synthesize_segment(
    ctx: StageContext, tts: SpeechSynthesizer, job_id: str, attempt: int, index: int
) -> None:
    found = active_segment(ctx.storage, job_id, attempt, index)
    if found is None:
        return  # the job ended, or a newer LLM attempt replaced this segment
    job, segment = found
    bind(session_id=job["session_id"])
    speech = None
    if segment.get("audio_id") is None:
        started_at = utcnow()
        started = time.perf_counter()
        speech = tts.synthesize(
            segment["text"], persona=get_persona(job["persona"]), emotion=segment["emotion"]
        )
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
            return
        segment = updated
        if index == 0:
            record_first_audio(job, tts.name)
    if not segment.get("ready"):
        ctx.events.emit(
            EventType.segment_audio_ready, job, attempt=attempt, segment=segment_out(ctx.settings, segment)
        )
    ctx.dispatcher.animate(job_id, attempt, index)
    if speech is not None:
        store_browser_copy(ctx, speech, job, attempt, index, tts.name)
    latest = mark_segment_encoded(ctx.storage, job_id, attempt, index)
    if latest is not None:
        complete_if_done(ctx, latest)
    elif get_segment(ctx.storage, job_id, attempt, index) is None:
        delete_segment_speech(ctx.storage, job_id, attempt, index)  # dropped while we encoded


def record_first_audio(job: dict[str, Any], backend: str) -> None:
    """Time to first audio: from the turn's creation until its first segment's audio is stored."""
    elapsed = seconds_since(job.get("created_at"))
    if elapsed is not None:
        TIME_TO_FIRST_AUDIO_SECONDS.labels(str(job.get("kind")), backend).observe(elapsed)


def store_browser_copy(
    ctx: StageContext,
    speech: SynthesizedSpeech,
    job: dict[str, Any],
    attempt: int,
    index: int,
    backend: str,
) -> None:
    """The ogg/opus copy for browsers, stored under the wav's name with .ogg (``?format=ogg`` finds
    it by that name); without it clients play the wav, so a failure only logs."""
    try:
        ctx.storage.replace_audio(
            encode_audio(speech.samples, speech.sample_rate, "ogg"),
            filename=speech_file_name(job["_id"], attempt, index, "ogg"),
            content_type="audio/ogg",
            metadata={**audio_metadata(job, index, speech, backend), "format": "ogg"},
        )
    except AudioEncodeError as exc:
        log.warning("no ogg copy of %s segment %d: %r", job["_id"], index, exc)


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
