"""Closing a WebSocket with a code and a reason, the same way for every socket route."""

import logging

from fastapi import WebSocket

log = logging.getLogger(__name__)

CLOSE_ON_FAILURE = 1011  # the server could not go on (Redis or MongoDB away)


async def close_quietly(websocket: WebSocket, code: int, reason: str | None = None) -> None:
    """Close, unless the client has already gone (then there is nobody to tell)."""
    try:
        await websocket.close(code=code, reason=reason)
    except Exception as exc:
        log.debug("%s: close failed: %r", websocket.url.path, exc)
