"""A cap on every request body, counted as the bytes arrive (chunked bodies included).

Plain ASGI, like the metrics middleware: a declared ``Content-Length`` over the cap is refused before
a byte is read; otherwise each ``http.request`` message is counted and the read that crosses the cap
raises :class:`BodyTooLarge`. It is an ``HTTPException`` on purpose: FastAPI turns any other error
raised while it reads a body into a 400, and the app's handler renders this one as 413
``payload_too_large``. Multipart uploads get a larger cap than everything else (JSON included).
"""

import logging

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from schemas.errors import ErrorCode

log = logging.getLogger(__name__)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the request body exceeds {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_multipart_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_multipart_bytes = max_multipart_bytes

    def limit_for(self, scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-type":
                return (
                    self.max_multipart_bytes
                    if value.lower().startswith(b"multipart/")
                    else self.max_body_bytes
                )
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await refuse(scope, receive, send, BodyTooLarge(limit))
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge as exc:  # raised where nothing turned it into a response
            if started:
                log.warning("request body over the cap after the response started: %s", exc.detail)
                return
            await refuse(scope, receive, send, exc)


async def refuse(scope: Scope, receive: Receive, send: Send, exc: BodyTooLarge) -> None:
    # The rest of the body is never handed to the app: the server reads past it and discards it,
    # so a client that sends the whole body before reading still gets this answer, and the
    # connection stays usable.
    response = error_response(413, ErrorCode.payload_too_large, str(exc.detail))
    await response(scope, receive, send)
