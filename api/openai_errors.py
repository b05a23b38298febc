"""OpenAI's error shape, on the OpenAI-compatible routes only.

OpenAI's SDKs read ``{"error": {"message", "type", "param", "code"}}``; every other route keeps
this API's own shape (api/errors.py). A route class converts whatever its handler or dependencies
raise (a missing key, a bad field, a worker's refusal, a backing service down), so the routes raise
the same ApiError as everywhere else. ``code`` carries this API's ErrorCode value.
"""

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from kombu.exceptions import OperationalError as BrokerError
from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import CODE_FOR_STATUS, STATUS_FOR_CODE, ApiError
from pipelines.errors import StageError
from schemas.errors import ErrorCode
from schemas.openai_audio import OpenAIErrorBody, OpenAIErrorResponse

log = logging.getLogger(__name__)

# Failures of the work itself, not of the request: the server's fault.
SERVER_STATUS: dict[ErrorCode, int] = {
    ErrorCode.stage_timeout: 504,
    ErrorCode.tts_timeout: 504,
    ErrorCode.dependency_unavailable: 503,
    ErrorCode.tts_unavailable: 503,
}
SERVER_CODES = frozenset(
    {
        ErrorCode.stt_failed,
        ErrorCode.tts_failed,
        ErrorCode.tts_silent,
        ErrorCode.tts_stream_cut,
        ErrorCode.worker_crashed,
        ErrorCode.internal_error,
    }
)


class OpenAIRequestError(ApiError):
    """An ApiError that names the request parameter at fault (OpenAI's ``param``)."""

    def __init__(self, code: ErrorCode, message: str, *, param: str | None, status: int | None = None):
        super().__init__(code, message, status=status or status_for(code))
        self.param = param


def status_for(code: ErrorCode) -> int:
    """OpenAI answers a bad parameter with 400 (this API's own routes: 422)."""
    if code is ErrorCode.validation_error:
        return 400
    if code in SERVER_STATUS:
        return SERVER_STATUS[code]
    if code in SERVER_CODES:
        return 500
    return STATUS_FOR_CODE.get(code, 400)


def error_type(status: int) -> str:
    """OpenAI's ``type`` for a status."""
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 404:
        return "not_found_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def openai_error(
    status: int,
    code: ErrorCode | str,
    message: str,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = OpenAIErrorResponse(
        error=OpenAIErrorBody(message=message, type=error_type(status), param=param, code=str(code))
    )
    if status == 503:
        headers = {"Retry-After": "5", **(headers or {})}
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"), headers=headers)


def _validation_param(exc: RequestValidationError) -> str | None:
    errors = exc.errors()
    loc = [str(part) for part in (errors[0].get("loc", ()) if errors else ()) if part != "body"]
    return loc[-1] if loc else None


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is not valid"


class OpenAIErrorRoute(APIRoute):
    """Routes of this class answer every failure in OpenAI's error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except OpenAIRequestError as exc:
                return openai_error(exc.status, exc.code, exc.message, param=exc.param, headers=exc.headers)
            except ApiError as exc:
                status = 400 if exc.code is ErrorCode.validation_error else exc.status
                return openai_error(status, exc.code, exc.message, headers=exc.headers)
            except StageError as exc:  # e.g. a persona file gone since the voice was mapped
                return openai_error(status_for(exc.code), exc.code, exc.message)
            except StarletteHTTPException as exc:  # a body FastAPI could not parse
                code = CODE_FOR_STATUS.get(exc.status_code, ErrorCode.validation_error)
                headers = dict(exc.headers) if exc.headers else None
                return openai_error(exc.status_code, code, str(exc.detail), headers=headers)
            except RequestValidationError as exc:
                return openai_error(
                    400,
                    ErrorCode.validation_error,
                    _validation_message(exc),
                    param=_validation_param(exc),
                )
            except (ConnectionFailure, RedisConnectionError, RedisTimeoutError, BrokerError) as exc:
                log.warning("dependency unavailable: %r", exc)
                return openai_error(
                    503, ErrorCode.dependency_unavailable, "a backing service is unavailable; retry"
                )

        return answer
