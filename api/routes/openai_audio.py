"""OpenAI-compatible audio: transcriptions, translations and speech, through our queues and workers.

Short files are transcribed while the request waits (a one-shot task on the live STT queue);
files over ``openai_sync_max_seconds`` become a batch (202 with its id, as /v1/transcriptions).
Speech streams as it is synthesized. Failures answer in OpenAI's error shape (api/openai_errors.py).
"""

from typing import Any, Literal

import anyio
from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import FormData, UploadFile

from api.auth import CallerKey
from api.deps import State
from api.openai_errors import OpenAIErrorRoute, OpenAIRequestError, status_for
from api.uploads import parse_form, refuse_oversized
from pipelines.audio_probe import AudioInfo, inspect_upload
from pipelines.batches import create_batch
from pipelines.errors import StageError
from pipelines.oneshot_transcription import await_outcome, new_request_id, send_oneshot
from pipelines.openai_formats import LANGUAGE_NAMES, MEDIA_TYPES, render
from pipelines.openai_names import NameRefused, check_tts_model, persona_for_voice, stt_model_for
from pipelines.speech_encoder import MEDIA_TYPES as SPEECH_MEDIA_TYPES
from pipelines.speech_stream import SpeechEntry, SpeechReader, send_speech
from pipelines.urls import url
from schemas.batches import BatchAccepted, BatchOptions, BatchStatus
from schemas.errors import ErrorCode
from schemas.openai_audio import (
    Granularity,
    OneShotTranscription,
    OpenAIErrorResponse,
    ResponseFormat,
    SpeechFormat,
    SpeechRequest,
)

router = APIRouter(
    prefix="/v1/audio",
    tags=["openai-compatible audio"],
    route_class=OpenAIErrorRoute,
    responses={
        code: {"model": OpenAIErrorResponse, "description": "OpenAI's error shape"}
        for code in (400, 401, 413, 415, 429, 500, 503, 504)
    },
)

TRANSCRIPTION_BODY = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "model": {"type": "string", "example": "whisper-1"},
                    "language": {"type": "string"},
                    "prompt": {"type": "string"},
                    "response_format": {
                        "type": "string",
                        "enum": ["json", "text", "srt", "verbose_json", "vtt"],
                    },
                    "temperature": {"type": "number", "minimum": 0, "maximum": 1},
                    "timestamp_granularities[]": {
                        "type": "array",
                        "items": {"type": "string", "enum": ["segment", "word"]},
                    },
                },
                "required": ["file", "model"],
            }
        }
    }
}
# Batch downloads for each OpenAI response format (verbose_json: the full JSON transcript).
BATCH_FORMATS: dict[str, str] = {
    "json": "json",
    "verbose_json": "json",
    "text": "txt",
    "srt": "srt",
    "vtt": "vtt",
}
Task = Literal["transcribe", "translate"]


class TranscriptionForm(BaseModel):
    """The form fields besides ``file``, checked as OpenAI documents them."""

    model: str = Field(min_length=1)
    language: str | None = None
    prompt: str | None = None
    response_format: ResponseFormat = "json"
    temperature: float = Field(default=0.0, ge=0.0, le=1.0)
    granularities: frozenset[Granularity] = frozenset({"segment"})


def transcription_form(form: FormData, task: Task) -> TranscriptionForm:
    granularities = [v for v in form.getlist("timestamp_granularities[]") if isinstance(v, str)]
    fields: dict[str, Any] = {
        name: value
        for name in ("model", "language", "prompt", "response_format", "temperature")
        if isinstance(value := form.get(name), str) and value != ""
    }
    if granularities:
        fields["granularities"] = granularities
    if task == "translate":
        fields.pop("language", None)  # a translation's language is English
    language = str(fields.get("language", "en")).strip().replace("_", "-").split("-")[0].lower()
    if language not in LANGUAGE_NAMES:
        raise OpenAIRequestError(
            ErrorCode.validation_error,
            f"language {fields['language']!r} is not an ISO-639-1 code Whisper knows",
            param="language",
        )
    try:
        return TranscriptionForm.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = str(first["loc"][0]) if first["loc"] else None
        param = "timestamp_granularities[]" if param == "granularities" else param
        raise OpenAIRequestError(ErrorCode.validation_error, f"{param}: {first['msg']}", param=param) from exc


async def speech_to_text(request: Request, key: CallerKey, state: State, task: Task) -> Response:
    settings = state.settings
    await state.rate_limits.submit(key.id)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise OpenAIRequestError(
            ErrorCode.unsupported_media_type, "send multipart/form-data with a file", param="file"
        )
    refuse_oversized(request, settings.max_upload_bytes)
    form = await parse_form(request, max_file_bytes=settings.max_upload_bytes, max_files=1, max_fields=20)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise OpenAIRequestError(ErrorCode.validation_error, "a file is required", param="file")
        fields = transcription_form(form, task)
        data = await upload.read()
    finally:
        await form.close()
    try:
        model = stt_model_for(settings, fields.model, task=task, language=fields.language)
    except NameRefused as exc:
        raise OpenAIRequestError(exc.code, exc.message, param=exc.param) from exc
    try:
        info: AudioInfo = await run_in_threadpool(
            inspect_upload,
            data,
            upload.filename,
            upload.content_type,
            max_bytes=settings.max_upload_bytes,
            max_seconds=settings.max_batch_audio_seconds,
        )
    except StageError as exc:
        raise OpenAIRequestError(exc.code, exc.message, param="file") from exc
    name = upload.filename or "audio"
    audio_id = await run_in_threadpool(
        state.storage.put_audio,
        data,
        filename=name,
        content_type=upload.content_type or "application/octet-stream",
        metadata={"owner": key.id, "format": info.format, "duration_s": info.duration_s, "purpose": "openai"},
    )
    if info.duration_s > settings.openai_sync_max_seconds:
        return await as_batch(state, key.id, fields, model, task, (name, audio_id, info.duration_s))
    oneshot = OneShotTranscription(
        request_id=new_request_id(),
        audio_id=audio_id,
        model=model,
        task=task,
        language=fields.language,
        prompt=fields.prompt,
        temperature=fields.temperature,
        word_timestamps=fields.response_format == "verbose_json" and "word" in fields.granularities,
    )
    await run_in_threadpool(
        send_oneshot, state.celery, state.router, settings, oneshot, audio_s=info.duration_s
    )
    outcome = await await_outcome(state.aredis, oneshot.request_id, timeout_s=settings.openai_sync_wait_s)
    if outcome is None:  # the file stays for retention: the worker may still be reading it
        raise OpenAIRequestError(
            ErrorCode.stage_timeout, f"no transcript within {settings.openai_sync_wait_s:g} s", param=None
        )
    await run_in_threadpool(state.storage.delete_audio, audio_id)
    if outcome.transcript is None:
        reported = outcome.error_code or ""
        code = ErrorCode(reported) if reported in set(ErrorCode) else ErrorCode.internal_error
        raise OpenAIRequestError(code, outcome.error_message or "transcription failed", param=None)
    body = render(
        outcome.transcript,
        fields.response_format,
        task=task,
        granularities=fields.granularities,
        temperature=fields.temperature,
    )
    return Response(body, media_type=MEDIA_TYPES[fields.response_format])


async def as_batch(
    state: State, owner: str, fields: TranscriptionForm, model: str, task: Task, file: tuple[str, str, float]
) -> JSONResponse:
    """A long file: accepted as a one-file batch, polled at /v1/transcriptions/{id}."""
    options = BatchOptions(
        language=fields.language,
        model=model,
        word_timestamps=True,
        formats=[BATCH_FORMATS[fields.response_format]],
        task=task,
    )
    batch = await run_in_threadpool(
        create_batch, state.storage, options=options, files=[file], callback_url=None, owner=owner
    )
    await run_in_threadpool(state.dispatcher.transcribe_file, batch["_id"], 0, audio_s=file[2])
    accepted = BatchAccepted(
        batch_id=batch["_id"],
        status=BatchStatus.queued,
        status_url=url(state.settings, f"/v1/transcriptions/{batch['_id']}"),
        files_total=1,
    )
    return JSONResponse(accepted.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)


TRANSCRIPT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The transcript in response_format",
        "content": {"application/json": {}, "text/plain": {}},
    },
    202: {"description": "A long file, accepted as a batch", "model": BatchAccepted},
}


@router.post(
    "/transcriptions",
    openapi_extra={"requestBody": TRANSCRIPTION_BODY},
    responses=TRANSCRIPT_RESPONSES,
)
async def create_transcription(request: Request, key: CallerKey, state: State) -> Response:
    """The speech of ``file`` as text (OpenAI's ``POST /v1/audio/transcriptions``)."""
    return await speech_to_text(request, key, state, "transcribe")


@router.post(
    "/translations",
    openapi_extra={"requestBody": TRANSCRIPTION_BODY},
    responses=TRANSCRIPT_RESPONSES,
)
async def create_translation(request: Request, key: CallerKey, state: State) -> Response:
    """The speech of ``file`` in English (OpenAI's ``POST /v1/audio/translations``)."""
    return await speech_to_text(request, key, state, "translate")


class SpeechBody(BaseModel):
    model: str
    input: str = Field(min_length=1)
    voice: str
    response_format: SpeechFormat = "mp3"
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    instructions: str | None = Field(default=None, description="Accepted; the voices here ignore it.")


@router.post(
    "/speech",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The speech, streamed in response_format",
            "content": {media_type: {} for media_type in SPEECH_MEDIA_TYPES.values()},
        }
    },
)
async def create_speech(body: SpeechBody, key: CallerKey, state: State) -> Response:
    """``input`` spoken in ``voice``, streamed while it is synthesized (OpenAI's ``/v1/audio/speech``)."""
    settings = state.settings
    await state.rate_limits.submit(key.id)
    if not body.input.strip():
        raise OpenAIRequestError(ErrorCode.validation_error, "input has nothing to speak", param="input")
    if len(body.input) > settings.openai_speech_max_chars:
        raise OpenAIRequestError(
            ErrorCode.validation_error,
            f"input is {len(body.input)} characters; the limit is {settings.openai_speech_max_chars}",
            param="input",
        )
    try:
        check_tts_model(settings, body.model)
        persona = persona_for_voice(settings, body.voice)
    except NameRefused as exc:
        raise OpenAIRequestError(exc.code, exc.message, param=exc.param) from exc
    speech = SpeechRequest(
        request_id=new_request_id(),
        text=body.input,
        persona=persona,
        response_format=body.response_format,
        speed=body.speed,
    )
    await run_in_threadpool(send_speech, state.celery, settings, speech)
    reader = SpeechReader(state.aredis, speech.request_id, wait_s=settings.openai_sync_wait_s)
    first = await reader.next()
    if first is None or first.kind == "error":
        await reader.close(cancel=True)
        failure = first or SpeechEntry(kind="error", code="stage_timeout", message="no speech in time")
        code = ErrorCode(failure.code) if failure.code in set(ErrorCode) else ErrorCode.internal_error
        raise OpenAIRequestError(code, failure.message, param=None, status=status_for(code))

    async def audio() -> Any:
        finished = first.kind == "end"
        try:
            if first.kind == "audio":
                yield first.data
                async for entry in reader.entries():
                    if entry.kind == "audio":
                        yield entry.data
                    else:  # end, or an error after audio went out: the stream just stops there
                        finished = True
        finally:  # also when the listener left (this task is being cancelled): shield the cleanup
            with anyio.CancelScope(shield=True):
                await reader.close(cancel=not finished)

    return StreamingResponse(audio(), media_type=SPEECH_MEDIA_TYPES[body.response_format])
