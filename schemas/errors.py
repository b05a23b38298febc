"""Machine-readable error codes and the one JSON error shape every client sees."""

from enum import StrEnum

from pydantic import BaseModel, Field


class ErrorCode(StrEnum):
    """Stable error codes; clients branch on these, never on the message text."""

    # Request problems (4xx at the API).
    not_found = "not_found"
    validation_error = "validation_error"
    unsupported_media_type = "unsupported_media_type"
    payload_too_large = "payload_too_large"
    audio_empty = "audio_empty"
    audio_corrupt = "audio_corrupt"
    audio_too_long = "audio_too_long"
    audio_silent = "audio_silent"
    unknown_persona = "unknown_persona"
    language_unsupported = "language_unsupported"  # the configured models cannot hear or voice it
    conflict = "conflict"
    unauthorized = "unauthorized"
    callback_not_allowed = "callback_not_allowed"
    forbidden = "forbidden"
    rate_limited = "rate_limited"
    too_many_jobs = "too_many_jobs"
    unknown_expression = "unknown_expression"  # details.valid lists the persona's expressions
    unknown_motion = "unknown_motion"  # details.valid lists the persona's motions
    unknown_model = "unknown_model"  # a model name the OpenAI-compatible routes do not map
    unknown_voice = "unknown_voice"  # a voice name the OpenAI-compatible speech route does not map
    # Dependencies (503 at the API).
    dependency_unavailable = "dependency_unavailable"
    # Stage failures recorded on a job.
    stt_failed = "stt_failed"
    llm_failed = "llm_failed"
    llm_auth = "llm_auth"
    llm_quota = "llm_quota"
    llm_timeout = "llm_timeout"
    llm_rate_limited = "llm_rate_limited"
    llm_bad_request = "llm_bad_request"
    tts_failed = "tts_failed"
    tts_bad_request = "tts_bad_request"
    tts_unavailable = "tts_unavailable"
    tts_timeout = "tts_timeout"
    tts_silent = "tts_silent"  # the engine answered success with silence
    tts_stream_cut = "tts_stream_cut"  # a streamed answer ended before its end (retryable)
    animation_failed = "animation_failed"
    stage_timeout = "stage_timeout"
    worker_crashed = "worker_crashed"
    internal_error = "internal_error"


class ErrorDetail(BaseModel):
    code: ErrorCode
    message: str
    details: list[dict[str, object]] | dict[str, object] | None = Field(
        default=None, description="Optional structured context, e.g. per-field validation errors."
    )


class ErrorResponse(BaseModel):
    """Body of every non-2xx response."""

    error: ErrorDetail
