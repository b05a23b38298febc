"""Transcribe (or translate) one stored file for a waiting OpenAI-compatible request."""

from collections.abc import Callable

from pipelines.audio_codec import STT_SAMPLE_RATE, decode_to_16k_mono, peak_frame_dbfs
from pipelines.backends import SpeechToText
from pipelines.settings import Settings
from pipelines.storage import Storage
from schemas.openai_audio import OneShotTranscription
from schemas.transcription import Transcript


def transcribe_oneshot(
    storage: Storage,
    settings: Settings,
    stt_for: Callable[[str], SpeechToText],
    request: OneShotTranscription,
) -> Transcript:
    """The transcript of the request's file; ``stt_for(model)`` is the worker's backend for a model.

    Silence gives an empty transcript, as OpenAI's API answers it, rather than an error: Whisper
    would only invent words for it.
    """
    samples = decode_to_16k_mono(
        storage.read_audio(request.audio_id), max_seconds=settings.openai_sync_max_seconds + 1
    )
    duration = round(samples.size / STT_SAMPLE_RATE, 3)
    if peak_frame_dbfs(samples) < settings.silence_dbfs:
        return Transcript(text="", language=request.language, duration_s=duration, model=request.model)
    return stt_for(request.model).transcribe(
        samples,
        language=request.language,
        word_timestamps=request.word_timestamps,
        task=request.task,
        prompt=request.prompt,
        temperature=request.temperature,
    )
