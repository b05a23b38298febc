"""A session's incoming chat: one Redis stream per session, written by connectors, read by the selector.

Entries hold the normalised ``ChatMessage`` as JSON; the entry id's millisecond part is when Redis
received the line, one clock for every connector and selector. The selector keeps its own cursor
(the last entry it stored) so a pass that dies before moving it reads the same entries again;
storing them is idempotent (pipelines/chat_selector.py).
"""

from dataclasses import dataclass
from typing import cast

import redis
import redis.asyncio as aioredis
from pydantic import ValidationError

from schemas.chat import ChatMessage

STREAM_TTL_S = 24 * 3600


def stream_key(session_id: str) -> str:
    return f"chat:lines:{session_id}"


def cursor_key(session_id: str) -> str:
    return f"chat:cursor:{session_id}"


@dataclass
class StreamEntry:
    entry_id: str
    received_at: float  # seconds, Redis's clock
    message: ChatMessage | None  # None: an entry that no longer reads as a ChatMessage
    raw: str


async def append(
    client: aioredis.Redis, session_id: str, messages: list[ChatMessage], *, max_len: int
) -> list[str]:
    """XADD the lines in order (one round trip); the stream is capped and expires when idle."""
    key = stream_key(session_id)
    pipe = client.pipeline(transaction=False)
    for message in messages:
        pipe.xadd(key, {"m": message.model_dump_json()}, maxlen=max_len, approximate=True)
    pipe.expire(key, STREAM_TTL_S)
    replies = await pipe.execute()
    return [entry.decode() if isinstance(entry, bytes) else str(entry) for entry in replies[:-1]]


def entry_seconds(entry_id: str) -> float:
    return int(entry_id.split("-", 1)[0]) / 1000


def read_new(client: redis.Redis, session_id: str, *, count: int) -> list[StreamEntry]:
    """Up to ``count`` entries after the selector's cursor, oldest first."""
    cursor = client.get(cursor_key(session_id))
    start = "(" + (cursor.decode() if isinstance(cursor, bytes) else str(cursor)) if cursor else "-"
    entries: list[StreamEntry] = []
    found = cast(
        list[tuple[bytes, dict[bytes, bytes]]],
        client.xrange(stream_key(session_id), min=start, max="+", count=count),
    )
    for raw_id, fields in found:
        entry_id = raw_id.decode()
        raw = fields.get(b"m", b"").decode("utf-8", errors="replace")
        try:
            message: ChatMessage | None = ChatMessage.model_validate_json(raw)
        except ValidationError:
            message = None
        entries.append(StreamEntry(entry_id, entry_seconds(entry_id), message, raw))
    return entries


def move_cursor(client: redis.Redis, session_id: str, entry_id: str) -> None:
    client.set(cursor_key(session_id), entry_id, ex=STREAM_TTL_S)
