"""Sessions and the short-term conversation context kept for them."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

# Stored as a MongoDB subdocument: keys without "$", "." or NUL; values printable and short.
MetadataKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
MetadataValue = Annotated[str, Field(max_length=512, pattern=r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$")]


class ConversationTurn(BaseModel):
    """One finished exchange, as kept in the session's short-term context (Redis)."""

    job_id: str
    user: str
    assistant: str
    emotion: str = "neutral"
    at: datetime
    interrupted: bool = Field(
        default=False, description="The viewer cut the reply off: `assistant` is what they heard."
    )


class SessionCreate(BaseModel):
    persona: str | None = Field(
        default=None, max_length=64, description="Persona id; the default persona if omitted."
    )
    metadata: dict[MetadataKey, MetadataValue] = Field(
        default_factory=dict,
        max_length=32,
        description="Labels of your own, kept with the session.",
        json_schema_extra={"additionalProperties": False},
    )


class SessionOut(BaseModel):
    id: str
    persona: str
    persona_version: str
    created_at: datetime
    utterances_url: str
