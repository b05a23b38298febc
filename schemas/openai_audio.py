"""The OpenAI-compatible audio API: its response shapes, and the messages its tasks carry.

Responses follow OpenAI's audio API so its SDKs and tools work unchanged; the task messages are
ours (small fields only: the audio itself stays in storage).
"""

from typing import Literal

from pydantic import BaseModel, Field

from schemas.transcription import Transcript

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
Granularity = Literal["segment", "word"]


class OneShotTranscription(BaseModel):
    """A stored file to transcribe (or translate) while the API request waits for the answer."""

    request_id: str
    audio_id: str
    model: str
    task: Literal["transcribe", "translate"] = "transcribe"
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    word_timestamps: bool = False


class OneShotOutcome(BaseModel):
    """What the STT worker hands back: a transcript, or why there is none."""

    transcript: Transcript | None = None
    error_code: str | None = None
    error_message: str | None = None


class SpeechRequest(BaseModel):
    """Text to speak in a persona's voice, encoded as ``response_format`` while it is made."""

    request_id: str
    text: str
    persona: str
    response_format: SpeechFormat = "mp3"
    speed: float = Field(default=1.0, ge=0.25, le=4.0)


class OpenAITranscription(BaseModel):
    """``response_format=json``."""

    text: str


class OpenAIWord(BaseModel):
    word: str
    start: float
    end: float


class OpenAISegment(BaseModel):
    """A segment of ``verbose_json``: the fields Whisper's segments give us (OpenAI adds decoder
    statistics such as avg_logprob, which our transcripts do not keep)."""

    id: int
    start: float
    end: float
    text: str
    temperature: float


class OpenAIVerboseTranscription(BaseModel):
    """``response_format=verbose_json``; ``segments`` and ``words`` as timestamp_granularities ask."""

    task: Literal["transcribe", "translate"]
    language: str
    duration: float
    text: str
    segments: list[OpenAISegment] | None = None
    words: list[OpenAIWord] | None = None


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    """Every refusal on the OpenAI-compatible routes (OpenAI's shape, not this API's own)."""

    error: OpenAIErrorBody
