"""Per-request log context: a request id (the caller's ``X-Request-ID`` or a new one) bound to every
line logged while the request is served, echoed in the response, and one line when it ends.

Reads log at debug (a polled route serves thousands a second); writes at info; server errors at
error. Ids in the route's path (job, session, batch) are on the line; a submission logs the job it
created (pipelines/submission.py), so a job id greps from the API into every worker.
"""

import re
import time
import uuid

import structlog
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipelines.logging_setup import bind, get_logger

log = get_logger("api.request")
REQUEST_ID_HEADER = b"x-request-id"
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_READS = {"GET", "HEAD", "OPTIONS"}
_PATH_IDS = ("job_id", "session_id", "batch_id")


def request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            if _ACCEPTABLE_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


async def bind_path_ids(connection: HTTPConnection) -> None:
    """An app-wide dependency (async: it runs in the request's own context, so what it binds
    reaches every line the route logs, threadpool included): the ids in the route's path."""
    params = connection.path_params
    bind(**{name: params[name] for name in _PATH_IDS if name in params})


class RequestLogContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self.log_end(scope, status, time.perf_counter() - started)

    @staticmethod
    def log_end(scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"]
        params = scope.get("path_params") or {}
        fields = {
            "method": method,
            "route": getattr(scope.get("route"), "path", "unmatched"),
            "status": status,
            "duration_s": round(seconds, 4),
            **{name: params[name] for name in _PATH_IDS if name in params},
        }
        if status >= 500:
            log.error("request", **fields)
        elif method in _READS:
            log.debug("request", **fields)
        else:
            log.info("request", **fields)
