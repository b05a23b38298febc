"""One JSON error shape for every failure, with a machine-readable code and never a stack trace."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.errors import StageError
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
    ErrorCode.dependency_unavailable: 503,
}
CODE_FOR_STATUS = {404: ErrorCode.not_found, 405: ErrorCode.validation_error, 401: ErrorCode.unauthorized}


class ApiError(Exception):
    def __init__(self, code: ErrorCode, message: str, *, status: int | None = None, details: object = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_FOR_CODE.get(code, 400)
        self.details = details


def error_response(status: int, code: ErrorCode, message: str, details: object = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message, details=details))  # type: ignore[arg-type]
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(StageError)
    async def _stage_error(_: Request, exc: StageError) -> JSONResponse:
        return error_response(STATUS_FOR_CODE.get(exc.code, 400), exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
            for err in exc.errors()
        ]
        return error_response(422, ErrorCode.validation_error, "the request is not valid", details)

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
