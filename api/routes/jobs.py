"""Polling a live-chat turn, and submitting it (text as JSON, or speech as a multipart upload)."""

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from api.deps import State
from api.errors import ApiError
from api.presenters import job_out
from api.state import ApiState
from api.uploads import read_upload
from api.urls import job_url
from pipelines.audio_intake import inspect_upload
from pipelines.jobs import create_job, fail_job, get_job
from schemas.errors import ErrorCode
from schemas.jobs import JobAccepted, JobOut, JobStatus, TextUtterance

router = APIRouter(prefix="/v1", tags=["jobs"])

UTTERANCE_BODY = {
    "content": {
        "application/json": {"schema": TextUtterance.model_json_schema()},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "audio": {"type": "string", "format": "binary"},
                    "callback_url": {"type": "string"},
                },
                "required": ["audio"],
            }
        },
    }
}


@router.post(
    "/sessions/{session_id}/utterances",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    openapi_extra={"requestBody": UTTERANCE_BODY},
)
async def submit_utterance(session_id: str, request: Request, state: State) -> JobAccepted:
    """Accept a viewer's utterance: JSON ``{"text": ...}`` or multipart with an ``audio`` file."""
    session = await run_in_threadpool(state.storage.sessions.find_one, {"_id": session_id})
    if session is None:
        raise ApiError(ErrorCode.not_found, f"session {session_id} not found")
    content_type = request.headers.get("content-type", "")
    fields: dict[str, Any]
    if content_type.startswith("multipart/form-data"):
        upload = await read_upload(request, field="audio", max_bytes=state.settings.max_upload_bytes)
        info = await run_in_threadpool(
            inspect_upload,
            upload.data,
            upload.filename,
            upload.content_type,
            max_bytes=state.settings.max_upload_bytes,
            max_seconds=state.settings.max_audio_seconds,
        )
        audio_id = await run_in_threadpool(
            state.storage.put_audio,
            upload.data,
            filename=upload.filename or "utterance",
            content_type=upload.content_type or "application/octet-stream",
            metadata={"session_id": session_id, "format": info.format, "duration_s": info.duration_s},
        )
        fields = {
            "kind": "audio",
            "input_audio_id": audio_id,
            "callback_url": upload.form.get("callback_url"),
        }
    elif content_type.startswith("application/json"):
        try:
            body = TextUtterance.model_validate_json(await request.body())
        except ValidationError as exc:
            raise ApiError(
                ErrorCode.validation_error, "the request is not valid", details=exc.errors(include_url=False)
            ) from exc
        fields = {"kind": "text", "input_text": body.text, "callback_url": body.callback_url}
    else:
        raise ApiError(
            ErrorCode.unsupported_media_type, "send application/json text or multipart/form-data audio"
        )
    job = await run_in_threadpool(
        create_job,
        state.storage,
        session_id=session_id,
        persona=session["persona"],
        persona_version=session["persona_version"],
        **fields,
    )
    await run_in_threadpool(enqueue_first_stage, state, job)
    return JobAccepted(
        job_id=job["_id"], status=JobStatus.queued, status_url=job_url(state.settings, job["_id"])
    )


def enqueue_first_stage(state: ApiState, job: dict[str, Any]) -> None:
    """Send the job's first task; if the broker is down the job is failed, not left dangling."""
    try:
        if job["kind"] == "audio":
            state.dispatcher.transcribe_utterance(job["_id"])
        else:
            state.dispatcher.reply(job["_id"])
    except Exception:
        fail_job(
            state.storage,
            job["_id"],
            code=ErrorCode.dependency_unavailable,
            message="the job queue was unavailable; submit again",
            stage=None,
        )
        raise


@router.get("/jobs/{job_id}", response_model=JobOut)
def poll_job(job_id: str, state: State) -> JobOut:
    job = get_job(state.storage, job_id)
    if job is None:
        raise ApiError(ErrorCode.not_found, f"job {job_id} not found")
    return job_out(state.storage, state.settings, job)
