"""Who is calling: the API key on the request, its scopes, and what it may read.

A key comes as ``Authorization: Bearer <key>``, ``X-API-Key: <key>`` or, for clients that cannot
set headers (a browser's EventSource), ``?access_token=<key>``. Verified keys are trusted for
``api_key_cache_s`` so a 10 ms poller does not cost a MongoDB query per request; a revocation
takes effect within that time. Every request also counts against its key's rate limit.

Objects belong to the key that created them (``owner`` on sessions, jobs, batches and stored
audio). Another key's object answers 404, exactly as if it did not exist, so ids cannot be probed.
"""

import time
from typing import Annotated, Any

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.errors import ApiError
from pipelines.api_keys import ApiKey, verify_key
from pipelines.storage import Storage
from schemas.api_keys import Scope
from schemas.errors import ErrorCode

OPEN_ACCESS_KEY = ApiKey(id="open-access", name="open access", scopes=frozenset(Scope), development=True)


class KeyCache:
    """Verified keys for a short while, so authentication is a dictionary lookup on a hot path."""

    def __init__(self, ttl_s: float, max_keys: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self._keys: dict[str, tuple[ApiKey, float]] = {}

    async def verify(self, storage: Storage, presented: str) -> ApiKey | None:
        cached = self._keys.get(presented)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        key = await run_in_threadpool(verify_key, storage, presented)
        if key is None:
            self._keys.pop(presented, None)
            return None
        if len(self._keys) >= self.max_keys:
            self._keys.clear()
        self._keys[presented] = (key, now + self.ttl_s)
        return key

    def forget(self, key_id: str) -> None:
        """Drop a revoked key at once (other API processes drop it when its time runs out)."""
        for presented in [p for p, (key, _) in self._keys.items() if key.id == key_id]:
            del self._keys[presented]


def presented_key(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or request.query_params.get("access_token") or None


async def authenticate(request: HTTPConnection) -> ApiKey:
    """The caller's key; a request or a WebSocket handshake (which reports failures as close codes)."""
    state = request.app.state.api
    presented = presented_key(request)
    if presented is None:
        if state.settings.open_access:
            return OPEN_ACCESS_KEY
        raise ApiError(ErrorCode.unauthorized, "an API key is required (Authorization: Bearer <key>)")
    key = await state.keys.verify(state.storage, presented)
    if key is None:
        raise ApiError(ErrorCode.unauthorized, "this API key is not valid (unknown, malformed or revoked)")
    if key.development and state.settings.env == "production":
        raise ApiError(ErrorCode.unauthorized, "development keys are refused in production")
    await state.rate_limits.request(key.id)
    return key


async def require_admin(key: Annotated[ApiKey, Depends(authenticate)]) -> ApiKey:
    if not key.is_admin:
        raise ApiError(ErrorCode.forbidden, "this needs a key with the admin scope")
    return key


def owns(key: ApiKey, doc: dict[str, Any] | None) -> bool:
    """Whether ``key`` may see ``doc`` (admins see everything)."""
    return doc is not None and (key.is_admin or doc.get("owner") == key.id)


def owned_or_404(key: ApiKey, doc: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if doc is None or not owns(key, doc):
        raise ApiError(ErrorCode.not_found, f"{what} not found")
    return doc


CallerKey = Annotated[ApiKey, Depends(authenticate)]
AdminKey = Annotated[ApiKey, Depends(require_admin)]
AdminGuard = Depends(require_admin)
