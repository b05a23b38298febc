"""API keys as the API and the CLI show them: never the secret, only what identifies a key."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class Scope(StrEnum):
    """``client``: create sessions, submit, read what it created. ``admin``: control, exports, any
    session."""

    client = "client"
    admin = "admin"


class ApiKeyInfo(BaseModel):
    id: str
    name: str
    scopes: list[Scope]
    development: bool
    created_at: datetime
    revoked_at: datetime | None = None
