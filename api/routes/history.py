"""A session's history: its turns, newest first, in two queries however many there are."""

from fastapi import APIRouter, Query

from api.auth import CallerKey, owned_or_404
from api.deps import State
from pipelines.job_views import load_job_views
from schemas.jobs import JobOut

router = APIRouter(prefix="/v1", tags=["history"])


@router.get("/sessions/{session_id}/jobs", response_model=list[JobOut])
def session_history(
    session_id: str, key: CallerKey, state: State, limit: int = Query(default=20, ge=1, le=200)
) -> list[JobOut]:
    """The session's turns, newest first."""
    owned_or_404(key, state.sessions.get(state.storage, session_id), f"session {session_id}")
    jobs = list(state.storage.jobs.find({"session_id": session_id}).sort("created_at", -1).limit(limit))
    return load_job_views(state.storage, state.settings, jobs)
