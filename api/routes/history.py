"""A session's history: its turns, newest first, in a fixed number of queries however many there are."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from api.auth import CallerKey, owned_or_404
from api.deps import State
from api.errors import ApiError
from pipelines.history import session_history
from pipelines.job_views import load_job_views
from pipelines.paging import BadCursor
from schemas.errors import ErrorCode
from schemas.history import HistoryPage
from schemas.jobs import JobOut

router = APIRouter(prefix="/v1", tags=["history"])


@router.get("/sessions/{session_id}/jobs", response_model=list[JobOut])
def session_jobs(
    session_id: str, key: CallerKey, state: State, limit: int = Query(default=20, ge=1, le=200)
) -> list[JobOut]:
    """The session's turns as full job views (segments with their tracks), newest first."""
    owned_or_404(key, state.sessions.get(state.storage, session_id), f"session {session_id}")
    jobs = list(state.storage.jobs.find({"session_id": session_id}).sort("created_at", -1).limit(limit))
    return load_job_views(state.storage, state.settings, jobs)


@router.get("/sessions/{session_id}/history", response_model=HistoryPage)
async def history(
    session_id: str,
    key: CallerKey,
    state: State,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the page before")
    ] = None,
) -> HistoryPage:
    """Every turn of the session, newest first, a page at a time: transcript, reply, emotion,
    persona version, models, timings, audio URLs, feedback and whether the viewer cut it off."""
    found = await run_in_threadpool(state.sessions.get, state.storage, session_id)
    owned_or_404(key, found, f"session {session_id}")
    try:
        return await run_in_threadpool(
            session_history, state.storage, state.settings, session_id, limit=limit, cursor=cursor
        )
    except BadCursor as exc:
        raise ApiError(ErrorCode.validation_error, str(exc)) from exc
