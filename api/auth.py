"""Admin-only endpoints: a bearer token from settings (open when none is set, for local use)."""

import hmac

from fastapi import Depends, Request

from api.errors import ApiError
from schemas.errors import ErrorCode


def require_admin(request: Request) -> None:
    token = request.app.state.api.settings.admin_token
    if not token:
        return
    supplied = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(supplied.encode(), token.encode()):
        raise ApiError(ErrorCode.unauthorized, "admin token required", status=401)


AdminGuard = Depends(require_admin)
