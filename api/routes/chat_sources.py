"""Platform chats bound to a session: attach a Twitch channel or YouTube live chat, see, detach.

A chat worker claims an attached source within a second or two and connects; ``GET`` shows its
state (waiting, connecting, connected, backoff, failed), its last error and the lines received.
Credentials are named, never sent: ``credentials_ref`` is the name of a secret the chat workers
hold (pipelines/chat_sources.resolve_secret). ``GET /v1/control/chat-sources`` lists every session's
chats for the control panel (admin keys).
"""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from api.auth import AdminGuard, CallerKey, owned_or_404
from api.deps import State
from api.errors import ApiError
from pipelines.chat_sources import SourceExists, attach, detach, list_sources, recent_sources, source_out
from schemas.chat import SourceCreate, SourceList, SourceOut
from schemas.errors import ErrorCode, ErrorResponse

router = APIRouter(prefix="/v1", tags=["platform chat"])


@router.post(
    "/sessions/{session_id}/sources",
    status_code=status.HTTP_201_CREATED,
    response_model=SourceOut,
    responses={409: {"model": ErrorResponse, "description": "The session already reads this chat."}},
)
async def attach_source(session_id: str, body: SourceCreate, key: CallerKey, state: State) -> SourceOut:
    """Read a platform chat into the session: its chosen lines become the session's turns."""
    found = await run_in_threadpool(state.sessions.get, state.storage, session_id)
    session = owned_or_404(key, found, f"session {session_id}")
    try:
        doc = await run_in_threadpool(attach, state.storage, session_id, session.get("owner"), body)
    except SourceExists as exc:
        raise ApiError(ErrorCode.conflict, str(exc)) from exc
    return source_out(doc)


@router.get("/sessions/{session_id}/sources", response_model=SourceList)
async def get_sources(session_id: str, key: CallerKey, state: State) -> SourceList:
    """The session's chat sources with their connection state."""
    found = await run_in_threadpool(state.sessions.get, state.storage, session_id)
    owned_or_404(key, found, f"session {session_id}")
    docs = await run_in_threadpool(list_sources, state.storage, session_id)
    return SourceList(sources=[source_out(doc) for doc in docs])


@router.delete("/sessions/{session_id}/sources/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
async def detach_source(session_id: str, source_id: str, key: CallerKey, state: State) -> Response:
    """Stop reading the chat; its worker lets the connection go within a second or two."""
    found = await run_in_threadpool(state.sessions.get, state.storage, session_id)
    owned_or_404(key, found, f"session {session_id}")
    if await run_in_threadpool(detach, state.storage, session_id, source_id) is None:
        raise ApiError(ErrorCode.not_found, f"source {source_id} not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/control/chat-sources", response_model=SourceList, dependencies=[AdminGuard])
async def every_source(state: State, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> SourceList:
    """Every session's platform chats, newest first, with their state (admin: the control panel)."""
    docs = await run_in_threadpool(recent_sources, state.storage, limit=limit)
    return SourceList(sources=[source_out(doc) for doc in docs])
