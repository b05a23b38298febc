"""Erasure on request: a session (its owner or an admin) or everything about a viewer (the key
whose viewer it is, or an admin)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from api.auth import CallerKey, owned_or_404
from api.deps import State
from api.errors import ApiError
from pipelines.erasure import ErasureContext, erase_sessions, erase_viewer
from schemas.erasure import ErasureReport
from schemas.errors import ErrorCode
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
    viewer_id: Annotated[str, Path(pattern=VIEWER_ID)],
    key: CallerKey,
    state: State,
    owner: Annotated[
        str | None,
        Query(max_length=64, description="Whose viewer: an API key id (default: the caller's own)."),
    ] = None,
) -> ErasureReport:
    """Everything about one key's viewer, in every session: their turns with the replies to them,
    feedback, audio, their part of event logs and context, and their memories. Viewer ids are each
    key's own names, so another key's viewer of the same id is untouched. A key erases its own
    viewers; another key's (``owner``) needs the admin scope."""
    whose = owner if owner is not None else key.id
    if whose != key.id and not key.is_admin:
        raise ApiError(ErrorCode.forbidden, "erasing another key's viewer needs the admin scope")
    ctx = ErasureContext(state.storage, state.redis, state.settings)
    return ErasureReport(deleted=await run_in_threadpool(erase_viewer, ctx, viewer_id, whose))
