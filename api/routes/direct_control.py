"""Direct control of the avatar (admin scope): verbatim lines, manual commands, session-less animation.

- ``POST /v1/sessions/{id}/speak``: a line said as written, tts → animation with no LLM, queued in
  order with the session's turns or interrupting them (pipelines/verbatim.py says how).
- ``POST /v1/sessions/{id}/avatar``: an expression, motion, gaze or reset, delivered to the
  session's avatar clients at once and kept in its history (pipelines/avatar_commands.py).
- ``POST /v1/animation``: text → audio, viseme and expression tracks without a session, for
  clients that pre-bake lines. It goes through the queues like every line (the API never runs a
  model): a job of kind ``animation`` with no session, owned by the caller, answered 202 with its
  id; ``GET /v1/jobs/{id}`` and ``/v1/jobs/{id}/events`` give its segments' audio URLs and tracks.
  A job rather than a dedicated short-job path because everything a line needs already exists for
  jobs (polling, events, webhooks, ownership of its audio, the sweep), and it is the same job a
  ``speak`` line is, minus the session.

Jobs of a session's line and command belong to the session's owner, so the avatar client that
created the session (a client key) may read them and their audio like its own turns.
"""

from typing import Annotated

from fastapi import APIRouter, Body, status
from fastapi.concurrency import run_in_threadpool

from api.auth import AdminKey, owned_or_404
from api.callbacks import checked_callback
from api.deps import State
from api.errors import ApiError
from api.routes.jobs import interrupt_and_follow_up, refuse_beyond_jobs_in_flight
from pipelines.avatar_commands import UnknownName, resolve_command, send_command
from pipelines.interrupts import unfinished_jobs
from pipelines.job_views import load_job_views
from pipelines.personas import get_persona
from pipelines.urls import job_url
from pipelines.verbatim import cut_line, submit_line
from schemas.avatar import AvatarCommand
from schemas.jobs import AnimationRequest, JobAccepted, JobKind, JobOut, JobStatus, SpeakRequest

router = APIRouter(prefix="/v1", tags=["direct control"])


@router.post("/sessions/{session_id}/speak", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
async def speak(session_id: str, body: SpeakRequest, key: AdminKey, state: State) -> JobAccepted:
    """Say ``text`` as written (tags give emotions and motions): a job of kind ``speak``."""
    found = await run_in_threadpool(state.sessions.get, state.storage, session_id)
    session = owned_or_404(key, found, f"session {session_id}")
    await state.rate_limits.submit(key.id)
    callback_url = await checked_callback(body.callback_url, state.settings)
    persona = get_persona(session["persona"])
    cut_line(persona, body.text)  # nothing speakable is refused before anything is interrupted
    if body.interrupt:
        for unfinished in await run_in_threadpool(unfinished_jobs, state.storage, session_id):
            await run_in_threadpool(interrupt_and_follow_up, state, unfinished, "speak", None)
    await run_in_threadpool(refuse_beyond_jobs_in_flight, state, key)
    job = await run_in_threadpool(
        lambda: submit_line(
            state.storage,
            state.events,
            state.dispatcher,
            state.settings,
            kind=JobKind.speak,
            session_id=session_id,
            owner=session.get("owner") or key.id,
            persona=persona,
            persona_version=session["persona_version"],
            text=body.text,
            callback_url=callback_url,
        )
    )
    return JobAccepted(
        job_id=job["_id"], status=JobStatus.queued, status_url=job_url(state.settings, job["_id"])
    )


@router.post("/sessions/{session_id}/avatar", response_model=JobOut)
async def command_avatar(
    session_id: str, command: Annotated[AvatarCommand, Body()], key: AdminKey, state: State
) -> JobOut:
    """Apply a command now on every avatar client of the session; the recorded job (kind ``avatar``).

    An expression or motion the session's persona lacks: 422 ``unknown_expression`` /
    ``unknown_motion``, with the valid names in ``details[0].valid``.
    """
    found = await run_in_threadpool(state.sessions.get, state.storage, session_id)
    session = owned_or_404(key, found, f"session {session_id}")
    try:
        resolved = resolve_command(get_persona(session["persona"]), command)
    except UnknownName as exc:
        field = "expression" if command.action == "expression" else "motion"
        detail = {"loc": ["body", field], "msg": exc.message, "type": exc.code.value, "valid": exc.valid}
        raise ApiError(exc.code, exc.message, details=[detail]) from exc
    job = await run_in_threadpool(
        lambda: send_command(
            state.followups, session=session, owner=session.get("owner") or key.id, command=resolved
        )
    )
    [view] = await run_in_threadpool(load_job_views, state.storage, state.settings, [job])
    return view


@router.post("/animation", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
async def animate_text(body: AnimationRequest, key: AdminKey, state: State) -> JobAccepted:
    """Voice and animate ``text`` without a session: poll the job for audio URLs and tracks."""
    persona = get_persona(body.persona or state.settings.default_persona)
    await state.rate_limits.submit(key.id)
    callback_url = await checked_callback(body.callback_url, state.settings)
    await run_in_threadpool(refuse_beyond_jobs_in_flight, state, key)
    job = await run_in_threadpool(
        lambda: submit_line(
            state.storage,
            state.events,
            state.dispatcher,
            state.settings,
            kind=JobKind.animation,
            session_id=None,
            owner=key.id,
            persona=persona,
            persona_version=persona.version,
            text=body.text,
            callback_url=callback_url,
        )
    )
    return JobAccepted(
        job_id=job["_id"], status=JobStatus.queued, status_url=job_url(state.settings, job["_id"])
    )
