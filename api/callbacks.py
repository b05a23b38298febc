"""Refuse a callback URL at submit time (422 ``callback_not_allowed``), before any work is queued."""

from fastapi.concurrency import run_in_threadpool

from api.errors import ApiError
from pipelines.callbacks import CallbackRefused, parse_networks, vet_callback
from pipelines.settings import Settings
from schemas.errors import ErrorCode


async def checked_callback(raw: str | None, settings: Settings) -> str | None:
    """``raw`` if a webhook may go there, None if there is none; DNS runs off the event loop."""
    if not raw:
        return None
    allowed = parse_networks(settings.callback_allowed_networks)
    try:
        await run_in_threadpool(vet_callback, raw, allowed)
    except CallbackRefused as exc:
        raise ApiError(
            ErrorCode.callback_not_allowed, exc.message, details={"field": "callback_url"}
        ) from exc
    return raw
