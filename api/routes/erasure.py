"""Erasure on request: a session (its owner or an admin) or everything about a viewer (admin)."""

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool

from api.auth import AdminKey, CallerKey, owned_or_404
from api.deps import State
from pipelines.erasure import ErasureContext, erase_sessions, erase_viewer
from schemas.erasure import ErasureReport
from schemas.jobs import VIEWER_ID

router = APIRouter(prefix="/v1", tags=["erasure"])


@router.delete("/sessions/{session_id}", response_model=ErasureReport)
async def delete_session(session_id: str, key: CallerKey, state: State) -> ErasureReport:
    """The session and everything of it: turns, feedback, audio, event logs, context and memories.
    Turns still running are stopped."""
    found = await run_in_threadpool(state.sessions.get, state.storage, session_id)
    owned_or_404(key, found, f"session {session_id}")
    state.sessions.forget(session_id)
    ctx = ErasureContext(state.storage, state.redis, state.settings)
    return ErasureReport(deleted=await run_in_threadpool(erase_sessions, ctx, [session_id]))


@router.delete("/viewers/{viewer_id}", response_model=ErasureReport)
async def delete_viewer(
    viewer_id: Annotated[str, Path(pattern=VIEWER_ID)], _: AdminKey, state: State
) -> ErasureReport:
    """Everything about the viewer, in every session: their turns with the replies to them,
    feedback, audio, their part of event logs and context, and their memories."""
    ctx = ErasureContext(state.storage, state.redis, state.settings)
    return ErasureReport(deleted=await run_in_threadpool(erase_viewer, ctx, viewer_id))
