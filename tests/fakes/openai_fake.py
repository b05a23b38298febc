"""A fake of the OpenAI chat completions HTTP API, faithful to its wire contract, scriptable per test.

Contract reproduced: ``POST /v1/chat/completions`` with a Bearer key; ``stream: true`` answers
``text/event-stream`` with ``data: {chat.completion.chunk}`` events (role first, content deltas,
a ``finish_reason`` chunk, then ``data: [DONE]``); ``stream: false`` answers one ``chat.completion``.
Errors use the real body shape ``{"error": {"message", "type", "param", "code"}}`` and status codes
(401 invalid_api_key, 404 model_not_found, 429 rate_limit_exceeded with ``Retry-After`` or
insufficient_quota, 500 server_error). Reasoning models (``reasoning_models``: o1, o3, gpt-5 and
later) refuse ``max_tokens`` (400 ``unsupported_parameter``, use ``max_completion_tokens``) and any
temperature but 1 (400 ``unsupported_value``), with the real messages. Each request is recorded
for assertions, on arrival.
A server that hangs is scripted with ``Hang``: the request is accepted and read, then nothing is
sent (no status line) for a while, or until the fake stops.

Usage::

    with FakeOpenAI(api_key="sk-test") as fake:
        fake.script(rate_limited(retry_after=1), reply("Hello there!"))
        ...  # point the client at fake.base_url
"""

import asyncio
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.server_thread import ServerThread, hold


@dataclass(frozen=True)
class Reply:
    """A successful completion whose content arrives in ``chunks`` deltas."""

    chunks: tuple[str, ...]


@dataclass(frozen=True)
class ApiError:
    status: int
    message: str
    type: str | None
    code: str | None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stall:
    """Send the role chunk and one content chunk, then send nothing more (until the fake stops)."""

    first_chunk: str


@dataclass(frozen=True)
class Hang:
    """Accept and read the request, then send nothing: for ``seconds`` (then answer with ``then``),
    or, with ``seconds=None``, until the fake stops."""

    seconds: float | None = None
    then: Reply | ApiError | Stall | None = None


Behaviour = Reply | ApiError | Stall | Hang


def reply(text: str) -> Reply:
    """Word-by-word deltas, as OpenAI streams them (leading spaces belong to the next word)."""
    words = text.split(" ")
    return Reply(tuple([words[0]] + [" " + word for word in words[1:]]))


def invalid_api_key(key: str = "sk-wrong") -> ApiError:
    return ApiError(
        401,
        f"Incorrect API key provided: {key[:3]}*****{key[-4:]}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    )


def rate_limited(retry_after: float = 1) -> ApiError:
    return ApiError(
        429,
        "Rate limit reached for gpt-4-turbo in organization org-fake on requests per min (RPM): "
        f"Limit 3, Used 3, Requested 1. Please try again in {retry_after}s.",
        "requests",
        "rate_limit_exceeded",
        headers={"retry-after": f"{retry_after:g}", "x-ratelimit-remaining-requests": "0"},
    )


def insufficient_quota() -> ApiError:
    return ApiError(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    )


def server_error() -> ApiError:
    return ApiError(
        500, "The server had an error while processing your request. Sorry about that!", "server_error", None
    )


def model_not_found(model: str) -> ApiError:
    return ApiError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    )


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float


class FakeOpenAI:
    """Answers from a script of behaviours, one per request; ``default`` once the script is used up."""

    def __init__(
        self,
        *,
        api_key: str = "sk-test",
        models: tuple[str, ...] = ("gpt-4-turbo",),
        reasoning_models: tuple[str, ...] = (),
        default: Behaviour | None = None,
    ) -> None:
        self.api_key = api_key
        self.models = set(models) | set(reasoning_models)
        self.reasoning_models = set(reasoning_models)
        self.default: Behaviour = default or reply("Hello! I am a fake model.")
        self.requests: list[RecordedRequest] = []
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])])

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def __enter__(self) -> "FakeOpenAI":
        self._server = ServerThread(self.app).start()
        self.base_url = f"{self._server.url}/v1"
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._released.set()  # let stalled streams end so the server can shut down
        self._server.stop()

    def _next(self) -> Behaviour:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    async def _completions(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        record = RecordedRequest(request.url.path, dict(request.headers), body or {}, time.time())
        self.requests.append(record)

        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            supplied = request.headers.get("authorization", "").removeprefix("Bearer ")
            return _error(invalid_api_key(supplied or "none"))
        if not isinstance(body, dict):
            return _error(
                ApiError(
                    400,
                    "We could not parse the JSON body of your request. (HINT: This likely means you "
                    "aren't using your HTTP library correctly. ...)",
                    "invalid_request_error",
                    None,
                )
            )
        if not body.get("model"):
            return _error(ApiError(400, "you must provide a model parameter", "invalid_request_error", None))
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error(
                ApiError(400, "[] is too short - 'messages'", "invalid_request_error", None, param="messages")
            )
        model = body["model"]
        if model not in self.models:
            return _error(model_not_found(model))

        refused = self._refused_by_reasoning_model(model, body)
        if refused is not None:
            return _error(refused)

        behaviour = self._next()
        if isinstance(behaviour, Hang):
            if not await hold(self._released, behaviour.seconds):
                return Response(status_code=503)  # the fake is stopping; the client gave up long ago
            behaviour = behaviour.then or self.default
            if isinstance(behaviour, Hang):
                raise ValueError("a Hang cannot be followed by another Hang")
        if isinstance(behaviour, ApiError):
            return _error(behaviour)
        if not body.get("stream"):
            text = "".join(behaviour.chunks) if isinstance(behaviour, Reply) else behaviour.first_chunk
            return JSONResponse(_completion(model, text))
        return StreamingResponse(
            self._events(model, behaviour),
            media_type="text/event-stream; charset=utf-8",
            headers={"cache-control": "no-cache", "x-request-id": f"req_{uuid.uuid4().hex}"},
        )

    async def _events(self, model: str, behaviour: Reply | Stall) -> AsyncIterator[bytes]:
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        yield event({"role": "assistant", "content": "", "refusal": None})
        if isinstance(behaviour, Stall):
            yield event({"content": behaviour.first_chunk})
            while not self._released.is_set():
                await asyncio.sleep(0.05)
            return
        for piece in behaviour.chunks:
            yield event({"content": piece})
        yield event({}, finish="stop")
        yield b"data: [DONE]\n\n"

    def _refused_by_reasoning_model(self, model: str, body: dict[str, Any]) -> ApiError | None:
        if model not in self.reasoning_models:
            return None
        if "max_tokens" in body:
            return ApiError(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "invalid_request_error",
                "unsupported_parameter",
                param="max_tokens",
            )
        temperature = body.get("temperature")
        if temperature is not None and temperature != 1:
            return ApiError(
                400,
                f"Unsupported value: 'temperature' does not support {temperature} with this model. "
                "Only the default (1) value is supported.",
                "invalid_request_error",
                "unsupported_value",
                param="temperature",
            )
        return None


def _error(error: ApiError) -> JSONResponse:
    body = {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()), "total_tokens": 10},
    }
