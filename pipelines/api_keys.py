"""API keys stored hashed in MongoDB: created (the secret shown once), listed, revoked, verified.

A key reads ``vtk_<id>_<secret>``: the id finds the record, the secret is checked against its
SHA-256 (the secret is 32 random bytes, so a fast hash is as strong as a slow one; nothing to
brute-force). Whoever holds a key owns the sessions, jobs, audio and batches made with it.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from pipelines.jobs import utcnow
from pipelines.storage import Storage
from schemas.api_keys import ApiKeyInfo, Scope

PREFIX = "vtk"
KEY_PATTERN = re.compile(rf"^{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: frozenset[Scope]
    development: bool

    @property
    def is_admin(self) -> bool:
        return Scope.admin in self.scopes


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    storage: Storage, *, name: str, scopes: list[Scope], development: bool = False
) -> tuple[ApiKey, str]:
    """Store a new key; returns it with its one and only plain-text copy."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    storage.journaled(storage.api_keys).insert_one(
        {
            "_id": key_id,
            "name": name,
            "scopes": sorted(scope.value for scope in scopes),
            "development": development,
            "hash": _digest(secret),
            "created_at": utcnow(),
            "revoked_at": None,
        }
    )
    return ApiKey(key_id, name, frozenset(scopes), development), f"{PREFIX}_{key_id}_{secret}"


def verify_key(storage: Storage, presented: str) -> ApiKey | None:
    """The key ``presented`` stands for, or None (malformed, unknown, wrong secret, revoked)."""
    match = KEY_PATTERN.match(presented)
    if match is None:
        return None
    key_id, secret = match.groups()
    doc = storage.api_keys.find_one({"_id": key_id})
    if doc is None or doc.get("revoked_at") is not None:
        return None
    if not hmac.compare_digest(doc["hash"], _digest(secret)):
        return None
    return ApiKey(key_id, doc["name"], frozenset(Scope(s) for s in doc["scopes"]), bool(doc["development"]))


def list_keys(storage: Storage) -> list[ApiKeyInfo]:
    return [_info(doc) for doc in storage.api_keys.find().sort("created_at", 1)]


def get_key_info(storage: Storage, key_id: str) -> ApiKeyInfo | None:
    doc = storage.api_keys.find_one({"_id": key_id})
    return None if doc is None else _info(doc)


def revoke_key(storage: Storage, key_id: str) -> bool:
    result = storage.api_keys.update_one(
        {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}}
    )
    return result.modified_count == 1


def live_development_keys(storage: Storage) -> int:
    """Unrevoked development keys (made by ``make demo``/``make run``): refused in production."""
    return storage.api_keys.count_documents({"development": True, "revoked_at": None})


def _info(doc: dict[str, Any]) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=doc["_id"],
        name=doc["name"],
        scopes=[Scope(s) for s in doc["scopes"]],
        development=bool(doc["development"]),
        created_at=doc["created_at"],
        revoked_at=doc.get("revoked_at"),
    )
