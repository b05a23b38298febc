"""One JSON error shape for every failure, with a machine-readable code and never a stack trace."""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.errors import StageError
from pipelines.personas import UnknownPersona
from schemas.errors import ErrorCode, ErrorDetail, ErrorResponse

log = logging.getLogger(__name__)

STATUS_FOR_CODE = {
    ErrorCode.not_found: 404,
    ErrorCode.validation_error: 422,
    ErrorCode.unsupported_media_type: 415,
    ErrorCode.payload_too_large: 413,
    ErrorCode.audio_empty: 400,
    ErrorCode.audio_corrupt: 400,
    ErrorCode.audio_too_long: 400,
    ErrorCode.audio_silent: 400,
    ErrorCode.unknown_persona: 400,
    ErrorCode.conflict: 409,
    ErrorCode.unauthorized: 401,
    ErrorCode.callback_not_allowed: 422,
    ErrorCode.forbidden: 403,
    ErrorCode.rate_limited: 429,
    ErrorCode.too_many_jobs: 429,
    ErrorCode.unknown_expression: 422,
    ErrorCode.unknown_motion: 422,
    ErrorCode.language_unsupported: 422,
    ErrorCode.dependency_unavailable: 503,
}
CODE_FOR_STATUS = {
    404: ErrorCode.not_found,
    405: ErrorCode.validation_error,
    401: ErrorCode.unauthorized,
    413: ErrorCode.payload_too_large,
    415: ErrorCode.unsupported_media_type,
}


# Documented on every API route (OpenAPI): any of them may refuse a request in the one error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Bad request: malformed body, unreadable audio, unknown persona.",
        401: "No API key, or not a valid one.",
        403: "The key lacks the scope this needs.",
        404: "No such object (or not this key's, or not an id of this API).",
        409: "Not ready yet (e.g. a transcript still being made).",
        413: "The body or an uploaded file is over its size limit.",
        415: "A content type this route does not take.",
        422: "The request does not match the schema.",
        429: "Rate limit or concurrency limit reached; see Retry-After.",
        503: "A backing service is down; retry after Retry-After.",
    }.items()
}


class ApiError(Exception):
    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        status: int | None = None,
        details: object = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_FOR_CODE.get(code, 400)
        self.details = details
        self.headers = headers


def validation_details(errors: Sequence[Any]) -> list[dict[str, object]]:
    """Where and why, never the input: it may be undecodable bytes or an exception object. An
    error that lists the valid choices (an unknown expression) keeps that list."""
    return [
        {
            "loc": list(err.get("loc", ())),
            "msg": err.get("msg", ""),
            "type": err.get("type", ""),
            **({"valid": list(err["ctx"]["valid"])} if "valid" in (err.get("ctx") or {}) else {}),
        }
        for err in errors
    ]


def validation_code(errors: Sequence[Any]) -> ErrorCode:
    """``validation_error``, or the more precise code every error names as its type (a schema
    validator may raise one, e.g. ``unknown_expression``)."""
    types = {str(err.get("type", "")) for err in errors}
    if len(types) == 1 and (only := types.pop()) in PRECISE_VALIDATION_CODES:
        return ErrorCode(only)
    return ErrorCode.validation_error


PRECISE_VALIDATION_CODES = frozenset({ErrorCode.unknown_expression.value})


def error_response(
    status: int, code: ErrorCode, message: str, details: object = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message, details=details))  # type: ignore[arg-type]
    if status == 503:
        headers = {"Retry-After": "5", **(headers or {})}
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(UnknownPersona)  # a request's persona, or a session's whose file is gone
    async def _unknown_persona(_: Request, exc: UnknownPersona) -> JSONResponse:
        return error_response(STATUS_FOR_CODE[ErrorCode.unknown_persona], ErrorCode.unknown_persona, str(exc))

    @app.exception_handler(StageError)
    async def _stage_error(_: Request, exc: StageError) -> JSONResponse:
        return error_response(STATUS_FOR_CODE.get(exc.code, 400), exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(exc.errors())
        return error_response(422, validation_code(exc.errors()), "the request is not valid", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = CODE_FOR_STATUS.get(exc.status_code, ErrorCode.validation_error)
        return error_response(exc.status_code, code, str(exc.detail))

    async def _dependency_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable: %r", exc)
        return error_response(
            503, ErrorCode.dependency_unavailable, "a backing service is unavailable; retry"
        )

    for dependency_error in (ConnectionFailure, RedisConnectionError, RedisTimeoutError, BrokerError):
        app.add_exception_handler(dependency_error, _dependency_down)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, ErrorCode.internal_error, "internal error")
