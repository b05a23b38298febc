"""The channel of the OpenAI-compatible speech route: encoded audio from the TTS worker to the API.

One Redis Stream per request (``speech:stream:<id>``): ``audio`` entries in order, then ``end`` or
``error``. The stream is transient (it expires; the API deletes it once relayed), which is why the
audio may travel through Redis here: nothing is stored, and the first bytes reach the listener
while later sentences are still being synthesized. A listener that leaves sets a cancel flag the
worker reads between sentences.
"""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from celery import Celery

from pipelines.dispatch import SENT_AT_HEADER
from pipelines.queues import TaskName
from pipelines.settings import Settings
from schemas.openai_audio import SpeechRequest

STREAM_PREFIX = "speech:stream:"
CANCEL_PREFIX = "speech:cancel:"
STREAM_TTL_S = 300
_READ_SLICE_MS = 5000  # under the async client's socket timeout


def stream_key(request_id: str) -> str:
    return f"{STREAM_PREFIX}{request_id}"


def cancel_key(request_id: str) -> str:
    return f"{CANCEL_PREFIX}{request_id}"


def send_speech(app: Celery, settings: Settings, request: SpeechRequest) -> None:
    """Queue the synthesis on the tts queue (time limit: the segment limit per 500 characters)."""
    soft_s = settings.tts_time_limit_s * (1 + len(request.text) // 500)
    app.send_task(
        TaskName.stream_speech,
        args=[request.model_dump(mode="json")],
        ignore_result=True,
        soft_time_limit=soft_s,
        time_limit=soft_s + settings.task_kill_grace_s,
        headers={SENT_AT_HEADER: time.time()},
    )


class SpeechPublisher:
    """The worker's side: audio, then exactly one of end, error or stopped."""

    def __init__(self, client: redis.Redis, request_id: str) -> None:
        self.client = client
        self.request_id = request_id
        self.key = stream_key(request_id)
        self.sent_audio = False

    def _add(self, fields: dict[str, str | bytes]) -> None:
        with self.client.pipeline(transaction=False) as pipe:
            pipe.xadd(self.key, fields)  # type: ignore[arg-type]
            pipe.expire(self.key, STREAM_TTL_S)
            pipe.execute()

    def audio(self, data: bytes) -> None:
        self._add({"kind": "audio", "data": data})
        self.sent_audio = True

    def end(self) -> None:
        self._add({"kind": "end"})

    def error(self, code: str, message: str) -> None:
        self._add({"kind": "error", "code": code, "message": message})

    def stopped(self, sentences_left: int) -> None:
        """The listener left and synthesis stopped early (an entry nobody reads: it shows it did)."""
        self._add({"kind": "stopped", "sentences_left": str(sentences_left)})

    def cancel_requested(self) -> bool:
        return bool(self.client.exists(cancel_key(self.request_id)))


@dataclass(frozen=True)
class SpeechEntry:
    kind: str  # audio | end | error
    data: bytes = b""
    code: str = ""
    message: str = ""


class SpeechReader:
    """The API's side: entries in order, waiting at most ``wait_s`` for each."""

    def __init__(self, client: aioredis.Redis, request_id: str, *, wait_s: float) -> None:
        self.client = client
        self.request_id = request_id
        self.key = stream_key(request_id)
        self.wait_s = wait_s
        self._last_id = "0-0"

    async def next(self) -> SpeechEntry | None:
        """The next entry, or None when none came within ``wait_s``."""
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            reply: Any = await self.client.xread({self.key: self._last_id}, count=1, block=_READ_SLICE_MS)
            if reply:
                entry_id, fields = reply[0][1][0]
                self._last_id = entry_id
                return SpeechEntry(
                    kind=fields[b"kind"].decode(),
                    data=fields.get(b"data", b""),
                    code=fields.get(b"code", b"").decode(),
                    message=fields.get(b"message", b"").decode(),
                )
        return None

    async def entries(self) -> AsyncIterator[SpeechEntry]:
        while (entry := await self.next()) is not None:
            yield entry
            if entry.kind != "audio":
                return
        yield SpeechEntry(kind="error", code="stage_timeout", message="the speech stopped arriving")

    async def close(self, *, cancel: bool) -> None:
        """Drop the stream; ``cancel`` tells the worker to stop synthesizing (the listener left)."""
        if cancel:
            await self.client.set(cancel_key(self.request_id), b"1", ex=STREAM_TTL_S)
        await self.client.delete(self.key)
