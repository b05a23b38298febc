"""Speech to text for a live utterance: stored audio → transcript → the LLM stage."""

import time

from pipelines.audio_codec import decode_to_16k_mono, ensure_not_silent
from pipelines.backends import SpeechToText
from pipelines.errors import StageError
from pipelines.jobs import begin_stage, finish_stage
from pipelines.stages.context import StageContext
from schemas.errors import ErrorCode
from schemas.events import EventType
from schemas.jobs import Stage


def transcribe_utterance(ctx: StageContext, stt: SpeechToText, job_id: str) -> None:
    job = begin_stage(ctx.storage, job_id, Stage.stt)
    if job is None:
        return  # unknown or already finished: nothing to do
    if job.get("transcript") is None:
        ctx.events.emit(EventType.stage_started, job, stage=Stage.stt)
        started = time.perf_counter()
        samples = decode_to_16k_mono(
            ctx.storage.read_audio(job["input_audio_id"]), max_seconds=ctx.settings.max_audio_seconds
        )
        ensure_not_silent(samples, ctx.settings.silence_dbfs)
        transcript = stt.transcribe(
            samples, language=None, word_timestamps=ctx.settings.stt_live_word_timestamps
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
