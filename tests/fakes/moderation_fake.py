"""A fake of OpenAI's moderation endpoint (``POST /v1/moderations``) — unreachable from here.

Answers ``{"id", "model", "results": [{"flagged", "categories", "category_scores"}]}`` for the
``input`` string, flagging lines that contain one of ``flag_words`` (as a moderation model would
flag harassment); ``down = True`` answers 500 with OpenAI's error shape.
"""

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server_thread import ServerThread


class FakeModeration:
    def __init__(self, flag_words: set[str]) -> None:
        self.flag_words = {word.casefold() for word in flag_words}
        self.down = False
        self.inputs: list[str] = []
        self.server = ServerThread(
            Starlette(routes=[Route("/v1/moderations", self.moderate, methods=["POST"])])
        )

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/v1"

    def __enter__(self) -> "FakeModeration":
        self.server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.stop()

    async def moderate(self, request: Request) -> JSONResponse:
        body: dict[str, Any] = await request.json()
        text = str(body.get("input", ""))
        self.inputs.append(text)
        if self.down:
            error = {
                "message": "The server had an error",
                "type": "server_error",
                "param": None,
                "code": None,
            }
            return JSONResponse({"error": error}, status_code=500)
        flagged = any(word in text.casefold() for word in self.flag_words)
        result = {
            "flagged": flagged,
            "categories": {"harassment": flagged, "hate": False, "violence": False},
            "category_scores": {"harassment": 0.97 if flagged else 0.01, "hate": 0.0, "violence": 0.0},
        }
        return JSONResponse({"id": "modr-1", "model": "omni-moderation-latest", "results": [result]})
