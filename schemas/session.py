"""Sessions and the short-term conversation context kept for them."""

from datetime import datetime

from pydantic import BaseModel, Field


class ConversationTurn(BaseModel):
    """One finished exchange, as kept in the session's short-term context (Redis)."""

    job_id: str
    user: str
    assistant: str
    emotion: str = "neutral"
    at: datetime


class SessionCreate(BaseModel):
    persona: str | None = Field(default=None, description="Persona id; the default persona if omitted.")
    metadata: dict[str, str] = Field(default_factory=dict)


class SessionOut(BaseModel):
    id: str
    persona: str
    persona_version: str
    created_at: datetime
    utterances_url: str
