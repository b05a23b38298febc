"""The admin API for keys (``/v1/keys``): what a request to create one holds, and the one answer
that carries the key itself."""

from pydantic import BaseModel, Field

from schemas.api_keys import ApiKeyInfo, Scope

# A name is a label people read in `keys list`: no control characters, no line breaks.
KEY_NAME = r"^[^\x00-\x1F\x7F]+$"


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=KEY_NAME, description="Who or what uses it.")
    scopes: list[Scope] = Field(
        default_factory=lambda: [Scope.client],
        min_length=1,
        max_length=len(Scope),
        description="client (create sessions, submit, read its own) and/or admin.",
    )


class KeyCreated(ApiKeyInfo):
    key: str = Field(description="The key itself, shown this once: only its SHA-256 is stored.")
