"""Speech to text for a live utterance: stored audio → transcript → the LLM stage.

The session's language (its persona's) is given to the model rather than detected: on a clip of a
few seconds Whisper's detection is unreliable (a Japanese line came back as Thai), and an
English-only model must never be asked for another language (pipelines/languages.py picks the
multilingual model for those sessions).
"""

import time
from collections.abc import Callable

from pipelines.audio_codec import decode_to_16k_mono, ensure_not_silent
from pipelines.backends import SpeechToText
from pipelines.errors import StageError
from pipelines.jobs import begin_stage, finish_stage
from pipelines.languages import hearing_refusal, live_stt_model
from pipelines.logging_setup import bind
from pipelines.personas import get_persona
from pipelines.stages.context import StageContext
from schemas.errors import ErrorCode
from schemas.events import EventType
from schemas.jobs import Stage


def transcribe_utterance(ctx: StageContext, stt_for: Callable[[str], SpeechToText], job_id: str) -> None:
    """``stt_for(model)``: the worker's backend for a model name."""
    job = begin_stage(ctx.storage, job_id, Stage.stt)
    if job is None:
        return  # unknown or already finished: nothing to do
    bind(session_id=job["session_id"])
    if job.get("transcript") is None:
        ctx.events.emit(EventType.stage_started, job, stage=Stage.stt)
        started = time.perf_counter()
        samples = decode_to_16k_mono(
            ctx.storage.read_audio(job["input_audio_id"]), max_seconds=ctx.settings.max_audio_seconds
        )
        ensure_not_silent(samples, ctx.settings.silence_dbfs)
        persona = get_persona(job["persona"])
        model = live_stt_model(ctx.settings, persona.language)
        if model is None:  # settings changed since the API accepted it
            raise StageError(ErrorCode.language_unsupported, hearing_refusal(ctx.settings, persona) or "")
        transcript = stt_for(model).transcribe(
            samples, language=persona.language, word_timestamps=ctx.settings.stt_live_word_timestamps
        )
        if not transcript.text.strip():
            raise StageError(ErrorCode.audio_silent, "no speech was recognised in the audio")
        seconds = time.perf_counter() - started
        finish_stage(
            ctx.storage,
            job_id,
            Stage.stt,
            seconds=seconds,
            fields={"transcript": transcript.model_dump(mode="json")},
        )
        ctx.events.emit(EventType.stage_finished, job, stage=Stage.stt, seconds=round(seconds, 4))
        ctx.events.emit(EventType.transcript_ready, job, transcript=transcript)
    ctx.dispatcher.reply(job_id)
