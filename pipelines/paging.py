"""Keyset pagination behind an opaque cursor: pages stay cheap and exact however deep they go.

A cursor is the (created_at, _id) of the last item served, so a page is one indexed range query
(never a skip), and an item added meanwhile neither repeats nor hides another.
"""

import base64
import binascii
import json
from datetime import datetime
from typing import Any


class BadCursor(ValueError):
    """A cursor this API did not hand out (or one mangled on the way back)."""


def encode_cursor(doc: dict[str, Any]) -> str:
    raw = json.dumps([doc["created_at"].isoformat(), doc["_id"]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, key = json.loads(raw)
        at = datetime.fromisoformat(created)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise BadCursor("this cursor was not handed out by this API") from exc
    if not isinstance(key, str) or at.tzinfo is None:
        raise BadCursor("this cursor was not handed out by this API")
    return at, key


def older_than(cursor: str | None) -> dict[str, Any]:
    """The filter for items after ``cursor`` in newest-first order (created_at, then _id, descending)."""
    if cursor is None:
        return {}
    at, key = decode_cursor(cursor)
    return {"$or": [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": key}}]}


NEWEST_FIRST = [("created_at", -1), ("_id", -1)]


def page_of(docs: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """``docs`` read with ``limit + 1``: the page and the cursor to the next one (None at the end)."""
    if len(docs) <= limit:
        return docs, None
    page = docs[:limit]
    return page, encode_cursor(page[-1])
