"""Polling a live-chat turn, and submitting it (text as JSON, or speech as a multipart upload)."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from redis.exceptions import RedisError

from api.auth import CallerKey, owned_or_404, owns
from api.callbacks import checked_callback
from api.deps import State
from api.errors import ApiError, validation_details
from api.event_feed import last_entry_id, wait_for_change
from api.job_view_cache import RenderedJob
from api.state import ApiState
from api.uploads import read_upload
from pipelines.api_keys import ApiKey
from pipelines.audio_probe import inspect_upload
from pipelines.events import NO_VERSION, STREAM_ID, job_stream
from pipelines.followups import run_job_followups
from pipelines.interrupts import interrupt_job, unfinished_jobs
from pipelines.job_views import load_job_views
from pipelines.jobs import ACTIVE, get_job
from pipelines.languages import hearing_refusal
from pipelines.personas import get_persona
from pipelines.settings import Settings
from pipelines.submission import submit_turn
from pipelines.urls import job_url
from schemas.errors import ErrorCode, ErrorResponse
from schemas.jobs import (
    VIEWER_ID,
    VIEWER_NAME_MAX,
    CancelRequest,
    JobAccepted,
    JobOut,
    JobStatus,
    PlaybackPosition,
    TextUtterance,
    ViewerFields,
)

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
                    "viewer_id": {"type": "string", "pattern": VIEWER_ID},
                    "viewer_name": {"type": "string", "maxLength": VIEWER_NAME_MAX},
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
async def submit_utterance(session_id: str, key: CallerKey, request: Request, state: State) -> JobAccepted:
    """Accept a viewer's utterance: JSON ``{"text": ...}`` or multipart with an ``audio`` file."""
    found = await run_in_threadpool(state.sessions.get, state.storage, session_id)
    session = owned_or_404(key, found, f"session {session_id}")
    await state.rate_limits.submit(key.id)
    content_type = request.headers.get("content-type", "")
    fields: dict[str, Any]
    if content_type.startswith("multipart/form-data"):
        refuse_unheard_language(state.settings, session["persona"])
        upload = await read_upload(request, field="audio", max_bytes=state.settings.max_upload_bytes)
        callback_url = await checked_callback(upload.form.get("callback_url"), state.settings)
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
            metadata={
                "session_id": session_id,
                "owner": key.id,
                "format": info.format,
                "duration_s": info.duration_s,
            },
        )
        fields = {
            "kind": "audio",
            "input_audio_id": audio_id,
            "callback_url": callback_url,
            "extra": checked_viewer(upload.form),
        }
        interrupt = upload.form.get("interrupt", "").lower() in ("1", "true", "yes")
    elif content_type.startswith("application/json"):
        try:
            body = TextUtterance.model_validate_json(await request.body())
        except ValidationError as exc:
            details = validation_details(exc.errors())
            raise ApiError(ErrorCode.validation_error, "the request is not valid", details=details) from exc
        callback_url = await checked_callback(body.callback_url, state.settings)
        fields = {
            "kind": "text",
            "input_text": body.text,
            "callback_url": callback_url,
            "extra": {"viewer_id": body.viewer_id, "viewer_name": body.viewer_name},
        }
        interrupt = body.interrupt
    else:
        raise ApiError(
            ErrorCode.unsupported_media_type, "send application/json text or multipart/form-data audio"
        )
    if interrupt:  # barge-in: the avatar stops talking before the new turn is queued
        for unfinished in await run_in_threadpool(unfinished_jobs, state.storage, session_id):
            await run_in_threadpool(interrupt_and_follow_up, state, unfinished, "utterance", None)
    await run_in_threadpool(refuse_beyond_jobs_in_flight, state, key)
    job = await run_in_threadpool(
        submit_turn,
        state.storage,
        state.events,
        state.dispatcher,
        session_id=session_id,
        owner=key.id,
        persona=session["persona"],
        persona_version=session["persona_version"],
        **fields,
    )
    return JobAccepted(
        job_id=job["_id"], status=JobStatus.queued, status_url=job_url(state.settings, job["_id"])
    )


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobOut,
    responses={409: {"model": ErrorResponse, "description": "The job had already finished."}},
)
async def cancel_job(
    job_id: str, key: CallerKey, state: State, body: CancelRequest | None = None
) -> Response:
    """Interrupt the turn (barge-in): nothing more is generated or announced, and history keeps what
    was heard (up to ``played`` when the client says where its playback was)."""
    job = owned_or_404(key, await run_in_threadpool(get_job, state.storage, job_id), f"job {job_id}")
    played = body.played if body else None
    if await run_in_threadpool(interrupt_and_follow_up, state, job, "cancel", played) is None:
        raise ApiError(ErrorCode.conflict, f"job {job_id} has already finished")
    version = await last_entry_id(state.aredis, job_stream(job_id))
    return Response((await rendered_job(state, job_id, version)).body, media_type="application/json")


def interrupt_and_follow_up(
    state: ApiState, job: dict[str, Any], by: str, played: PlaybackPosition | None
) -> dict[str, Any] | None:
    interrupted = interrupt_job(state.storage, state.redis, job, by=by, played=played)
    if interrupted is not None:
        run_job_followups(state.followups, interrupted)  # event, context turn and webhook at once
    return interrupted


def checked_viewer(form: Mapping[str, Any]) -> dict[str, Any]:
    """A multipart form's viewer fields, held to the JSON body's rules (schemas/jobs.ViewerFields)."""
    fields = {name: form.get(name) or None for name in ViewerFields.model_fields}
    try:
        return ViewerFields.model_validate(fields).model_dump()
    except ValidationError as exc:
        details = validation_details(exc.errors())
        for detail in details:  # where the form field sits, as for a JSON body
            detail["loc"] = ["body", *list(detail["loc"])]  # type: ignore[call-overload]
        raise ApiError(ErrorCode.validation_error, "the request is not valid", details=details) from exc


def refuse_unheard_language(settings: Settings, persona_id: str) -> None:
    """Audio the configured speech models cannot hear in the session's language: 422 up front."""
    if refusal := hearing_refusal(settings, get_persona(persona_id)):
        raise ApiError(ErrorCode.language_unsupported, refusal)


def refuse_beyond_jobs_in_flight(state: ApiState, key: ApiKey) -> None:
    cap = state.settings.max_jobs_in_flight
    if state.storage.jobs.count_documents({"owner": key.id, "status": {"$in": ACTIVE}}, limit=cap) >= cap:
        raise ApiError(
            ErrorCode.too_many_jobs,
            f"this key has {cap} turns still running; wait for one to finish",
            headers={"Retry-After": "1"},
        )


@router.get("/jobs/{job_id}", response_model=JobOut)
async def poll_job(
    job_id: str,
    key: CallerKey,
    state: State,
    wait: Annotated[
        float | None, Query(ge=0, le=30, description="Long-poll: hold the request up to this many seconds")
    ] = None,
    since: Annotated[
        str | None, Query(description="Long-poll: the `version` you have; answer once it changes")
    ] = None,
) -> Response:
    """The job as it stands; with ``wait`` and ``since``, as soon as it differs from ``since``."""
    if since is not None and not STREAM_ID.match(since):
        raise ApiError(ErrorCode.validation_error, "since must be a version this API returned")
    try:
        version = await last_entry_id(state.aredis, job_stream(job_id))
    except RedisError:  # the event log is down: MongoDB still answers, just not by version
        version = NO_VERSION
        wait = None
    view = await rendered_job(state, job_id, version)
    if not owns(key, {"owner": view.owner}):
        raise ApiError(ErrorCode.not_found, f"job {job_id} not found")
    if wait and since == view.version and not view.terminal:
        timeout = min(wait, state.settings.long_poll_max_s)
        newer = await wait_for_change(state.aredis, job_id, since, timeout)
        if newer is not None:
            view = await rendered_job(state, job_id, newer)
    return Response(view.body, media_type="application/json", headers={"ETag": f'"{view.version}"'})


async def rendered_job(state: ApiState, job_id: str, version: str) -> RenderedJob:
    """The cached view at ``version``, or one read from MongoDB (one query each: job, segments)."""
    cached = state.views.get(job_id, version)
    if cached is not None:
        return cached
    job = await run_in_threadpool(get_job, state.storage, job_id)
    if job is None:
        raise ApiError(ErrorCode.not_found, f"job {job_id} not found")
    [view] = await run_in_threadpool(load_job_views, state.storage, state.settings, [job])
    return state.views.render(view, version, job.get("owner"))
