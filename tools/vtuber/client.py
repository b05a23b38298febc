"""The one place the CLI talks HTTP: requests with the key, and every way they can fail turned into
an :class:`ApiFailure` (the API's error code and message, or why the API could not be reached),
which the CLI prints as one line with an exit code, never a traceback."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, connect_sse

DEFAULT_API_URL = "http://localhost:8000"

# Exit codes (2 is Click's own for a usage error).
EXIT_REFUSED = 1  # the API refused the request (4xx), or the work it did failed
EXIT_UNAVAILABLE = 3  # the API could not be reached, or answered with a server error (5xx)

# Event streams send a ping every VTUBER_SSE_PING_S (15 s by default): a minute of silence is a
# dead connection.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=60.0)


class ApiFailure(Exception):
    """A request that did not succeed, as the API named it (``code``, ``message``)."""

    def __init__(self, code: str, message: str, *, status: int | None = None, exit_code: int = EXIT_REFUSED):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.exit_code = exit_code

    def line(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"error: {self.code}: {self.message}{status}"


def failure_from(response: httpx.Response) -> ApiFailure:
    """The API's ``{"error": {"code", "message", "details"}}``, or what can be said of another body
    (a proxy's error page, say)."""
    exit_code = EXIT_UNAVAILABLE if response.status_code >= 500 else EXIT_REFUSED
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        text = " ".join(response.text.split())[:200]
        return ApiFailure(
            f"http_{response.status_code}",
            text or response.reason_phrase,
            status=response.status_code,
            exit_code=exit_code,
        )
    if where := first_detail(error.get("details")):
        message = f"{message} ({where})"
    if retry_after := response.headers.get("Retry-After"):
        message = f"{message}; retry after {retry_after} s"
    return ApiFailure(code, message, status=response.status_code, exit_code=exit_code)


def first_detail(details: object) -> str:
    """Where a validation error is, from its first detail: ``body.name: String should have...``."""
    if not isinstance(details, list) or not details or not isinstance(details[0], dict):
        return ""
    first = details[0]
    loc = ".".join(str(part) for part in first.get("loc") or [])
    msg = str(first.get("msg") or "")
    more = f" and {len(details) - 1} more" if len(details) > 1 else ""
    return f"{loc}: {msg}{more}" if loc else f"{msg}{more}"


def unreachable(base_url: str, exc: httpx.HTTPError) -> ApiFailure:
    reason = str(exc) or type(exc).__name__
    return ApiFailure("unreachable", f"no answer from {base_url}: {reason}", exit_code=EXIT_UNAVAILABLE)


class ApiClient:
    """An httpx client bound to one API and key; every method raises :class:`ApiFailure`."""

    def __init__(self, base_url: str, key: str | None, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc
        if response.is_error:
            raise failure_from(response)
        return response

    def json(self, method: str, path: str, **options: Any) -> Any:
        response = self.request(method, path, **options)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiFailure(
                "bad_response", f"{method} {path} answered {response.status_code} without JSON"
            ) from exc

    def get(self, path: str, **options: Any) -> Any:
        return self.json("GET", path, **options)

    def download(self, path: str) -> bytes:
        return self.request("GET", path).content

    @contextmanager
    def stream(self, path: str, **options: Any) -> Iterator[httpx.Response]:
        """A GET whose body is read as it arrives (exports); an error answer raises before any of it."""
        try:
            with self.http.stream("GET", path, timeout=STREAM_TIMEOUT, **options) as response:
                if response.is_error:
                    response.read()
                    raise failure_from(response)
                yield response
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc

    def events(self, path: str, *, last_event_id: str | None = None) -> Iterator[ServerSentEvent]:
        """One connection's server-sent events (after ``last_event_id``); ends when the server ends
        the stream. A 204 (nothing after that id) is no events."""
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        try:
            with connect_sse(self.http, "GET", path, headers=headers, timeout=STREAM_TIMEOUT) as source:
                if source.response.is_error:
                    source.response.read()
                    raise failure_from(source.response)
                if source.response.status_code == 204:
                    return
                yield from source.iter_sse()
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc
