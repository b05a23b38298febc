"""Platform chat sources bound to sessions (``chat_sources``), and what was seen (``chat_messages``).

A source stores the platform, its target (Twitch channel or YouTube live chat id) and at most the
*name* of its credentials, never a token: the chat worker resolves the name from its own
environment or mounted secret files (``resolve_secret``). The worker writes the connection state
back onto the source so the API, the CLI and the control panel can show it.
"""

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from pipelines.jobs import utcnow
from pipelines.settings import Settings
from pipelines.storage import Storage
from schemas.chat import SECRET_REF, ChatPlatform, SourceCreate, SourceOut, SourceState

_indexed: set[int] = set()


class SourceExists(Exception):
    """The session already reads this channel or live chat."""


def sources(storage: Storage) -> Collection:
    return storage.db["chat_sources"]


def chat_messages(storage: Storage) -> Collection:
    return storage.db["chat_messages"]


def ensure_chat_indexes(storage: Storage) -> None:
    """Once per storage object: a session reads one target once; lines by session and fate."""
    if id(storage) in _indexed:
        return
    sources(storage).create_index(
        [("session_id", ASCENDING), ("platform", ASCENDING), ("target", ASCENDING)], unique=True
    )
    messages = chat_messages(storage)
    messages.create_index([("session_id", ASCENDING), ("fate", ASCENDING), ("received_at", ASCENDING)])
    messages.create_index([("session_id", ASCENDING), ("decided_at", ASCENDING)])
    _indexed.add(id(storage))


def attach(storage: Storage, session_id: str, owner: str | None, body: SourceCreate) -> dict[str, Any]:
    ensure_chat_indexes(storage)
    now = utcnow()
    target = (
        (body.channel or "").lstrip("#").lower()
        if body.platform is ChatPlatform.twitch
        else body.live_chat_id
    )
    doc = {
        "_id": uuid4().hex,
        "session_id": session_id,
        "owner": owner,
        "platform": body.platform.value,
        "target": target,
        "channel": target if body.platform is ChatPlatform.twitch else None,
        "live_chat_id": body.live_chat_id,
        "credentials_ref": body.credentials_ref,
        "state": SourceState.waiting.value,
        "error": None,
        "messages": 0,
        "malformed": 0,
        "last_message_at": None,
        "connected_at": None,
        "page_token": None,
        "created_at": now,
        "updated_at": now,
    }
    try:
        sources(storage).insert_one(doc)
    except DuplicateKeyError as exc:
        raise SourceExists(f"session {session_id} already reads {body.platform.value} {target}") from exc
    return doc


def detach(storage: Storage, session_id: str, source_id: str) -> dict[str, Any] | None:
    return sources(storage).find_one_and_delete({"_id": source_id, "session_id": session_id})


def list_sources(storage: Storage, session_id: str) -> list[dict[str, Any]]:
    return list(sources(storage).find({"session_id": session_id}).sort("created_at", ASCENDING))


def recent_sources(storage: Storage, *, limit: int) -> list[dict[str, Any]]:
    """Every session's sources, newest first (the control panel's view)."""
    return list(sources(storage).find({}).sort("created_at", DESCENDING).limit(limit))


def get_source(storage: Storage, source_id: str) -> dict[str, Any] | None:
    return sources(storage).find_one({"_id": source_id})


def all_sources(storage: Storage) -> list[dict[str, Any]]:
    return list(sources(storage).find({}, {"page_token": 0}))


def set_state(storage: Storage, source_id: str, state: SourceState, error: str | None = None) -> None:
    now = utcnow()
    update: dict[str, Any] = {"state": state.value, "updated_at": now}
    if state is SourceState.connected:
        update.update(connected_at=now, error=None)
    elif error is not None:
        update["error"] = error[:500]
    sources(storage).update_one({"_id": source_id}, {"$set": update})


def count_received(storage: Storage, source_id: str, lines: int, last_at: datetime) -> None:
    sources(storage).update_one(
        {"_id": source_id}, {"$inc": {"messages": lines}, "$set": {"last_message_at": last_at}}
    )


def count_malformed(storage: Storage, source_id: str, reason: str) -> None:
    sources(storage).update_one(
        {"_id": source_id}, {"$inc": {"malformed": 1}, "$set": {"last_malformed": reason[:200]}}
    )


def save_page_token(storage: Storage, source_id: str, token: str) -> dict[str, Any] | None:
    return sources(storage).find_one_and_update(
        {"_id": source_id}, {"$set": {"page_token": token}}, return_document=ReturnDocument.AFTER
    )


def source_out(doc: dict[str, Any]) -> SourceOut:
    return SourceOut(
        id=doc["_id"],
        session_id=doc["session_id"],
        platform=ChatPlatform(doc["platform"]),
        channel=doc.get("channel"),
        live_chat_id=doc.get("live_chat_id"),
        credentials_ref=doc.get("credentials_ref"),
        state=SourceState(doc["state"]),
        error=doc.get("error"),
        messages=int(doc.get("messages") or 0),
        malformed=int(doc.get("malformed") or 0),
        last_message_at=doc.get("last_message_at"),
        connected_at=doc.get("connected_at"),
        created_at=doc["created_at"],
    )


def resolve_secret(settings: Settings, ref: str | None, environ: dict[str, str] | None = None) -> str | None:
    """The value a credentials reference names: ``VTUBER_CHAT_SECRET_<REF>``, else the file
    ``<chat_secrets_dir>/<REF>``; None when the reference is absent or names nothing."""
    if not ref or not re.fullmatch(SECRET_REF, ref):
        return None
    env = os.environ if environ is None else environ
    if value := env.get(f"VTUBER_CHAT_SECRET_{ref}", "").strip():
        return value
    if settings.chat_secrets_dir:
        path = Path(settings.chat_secrets_dir) / ref
        if path.is_file():
            return path.read_text(encoding="utf-8").strip() or None
    return None
