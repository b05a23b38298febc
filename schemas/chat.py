"""Live platform chat: sources bound to a session, one normalised message shape, and each line's fate.

Twitch and YouTube messages differ in every field name; the connectors (pipelines/chat_twitch.py,
pipelines/chat_youtube.py) turn both into ``ChatMessage`` so the selector knows one shape.
"""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

# A secret's name, never its value: the chat worker reads VTUBER_CHAT_SECRET_<NAME> or a file of
# that name in VTUBER_CHAT_SECRETS_DIR (a mounted Kubernetes or Docker secret).
SECRET_REF = r"^[A-Z][A-Z0-9_]{0,63}$"
TWITCH_CHANNEL = r"^#?[A-Za-z0-9_]{1,25}$"
YOUTUBE_LIVE_CHAT_ID = r"^[A-Za-z0-9_-]{1,128}$"


class ChatPlatform(StrEnum):
    twitch = "twitch"
    youtube = "youtube"


class ChatKind(StrEnum):
    """What a line is on its platform; all but ``message`` are paid or membership events."""

    message = "message"
    cheer = "cheer"  # Twitch bits
    super_chat = "super_chat"  # YouTube Super Chat or Super Sticker
    subscription = "subscription"  # Twitch sub/resub, YouTube new member or milestone
    gift = "gift"  # gifted subscriptions or memberships


class ChatMessage(BaseModel):
    """One platform line, normalised; what a connector adds to the session's chat stream."""

    platform: ChatPlatform
    source_id: str
    message_id: str = Field(description="The platform's own id of the line (de-duplicates re-reads).")
    viewer_id: str = Field(description="`twitch:<user id>` or `youtube:<channel id>`.")
    viewer_name: str
    text: str = Field(description="What the viewer wrote (may be empty for a bare subscription).")
    kind: ChatKind = ChatKind.message
    bits: int = Field(default=0, ge=0)
    amount_micros: int = Field(default=0, ge=0, description="A Super Chat's amount in micros.")
    currency: str | None = None
    member: bool = Field(default=False, description="Subscriber (Twitch) or channel member (YouTube).")
    moderator: bool = False
    sent_at: datetime | None = Field(default=None, description="When the platform says it was sent.")

    @property
    def paid(self) -> bool:
        return self.bits > 0 or self.amount_micros > 0 or self.kind in (ChatKind.subscription, ChatKind.gift)


class ChatFate(StrEnum):
    pending = "pending"
    answered = "answered"
    skipped = "skipped"


class SkipReason(StrEnum):
    duplicate = "duplicate"  # the same text recently, from anyone
    cooldown = "cooldown"  # this viewer was answered a moment ago
    blocked = "blocked"  # a blocked viewer or word
    moderated = "moderated"  # the moderation hook flagged it
    empty = "empty"  # nothing to answer (e.g. only emotes stripped to nothing)
    not_chosen = "not_chosen"  # another line was answered instead
    stale = "stale"  # waited longer than VTUBER_CHAT_CANDIDATE_MAX_AGE_S


class SourceCreate(BaseModel):
    """Bind a platform chat to a session: its chosen lines become the session's utterances."""

    platform: ChatPlatform
    channel: str | None = Field(
        default=None, pattern=TWITCH_CHANNEL, description="Twitch: the channel's login name."
    )
    live_chat_id: str | None = Field(
        default=None,
        pattern=YOUTUBE_LIVE_CHAT_ID,
        description="YouTube: the broadcast's snippet.liveChatId.",
    )
    credentials_ref: str | None = Field(
        default=None,
        pattern=SECRET_REF,
        description="Name of a secret the chat worker holds (VTUBER_CHAT_SECRET_<NAME> or a file in "
        "VTUBER_CHAT_SECRETS_DIR): a Twitch OAuth token, or a YouTube API key / OAuth token. "
        "Omitted: Twitch reads anonymously, YouTube uses VTUBER_CHAT_YOUTUBE_API_KEY. The value "
        "itself is never sent to or stored by the API.",
    )

    @model_validator(mode="after")
    def _target_matches_platform(self) -> "SourceCreate":
        if self.platform is ChatPlatform.twitch and (not self.channel or self.live_chat_id):
            raise ValueError("a twitch source names a channel (and no live_chat_id)")
        if self.platform is ChatPlatform.youtube and (not self.live_chat_id or self.channel):
            raise ValueError("a youtube source names a live_chat_id (and no channel)")
        return self


class SourceState(StrEnum):
    waiting = "waiting"  # no chat worker has claimed it yet
    connecting = "connecting"
    connected = "connected"
    backoff = "backoff"  # disconnected, or refused by the platform: trying again later
    failed = "failed"  # the platform said it will never work (unknown chat, ended broadcast)


class SourceOut(BaseModel):
    id: str
    session_id: str
    platform: ChatPlatform
    channel: str | None = None
    live_chat_id: str | None = None
    credentials_ref: str | None = None
    state: SourceState
    error: str | None = Field(default=None, description="The last connection or platform error.")
    messages: int = Field(default=0, description="Lines received from the platform so far.")
    malformed: int = Field(default=0, description="Platform lines that could not be read (logged, skipped).")
    last_message_at: datetime | None = None
    connected_at: datetime | None = None
    created_at: datetime


class SourceList(BaseModel):
    sources: list[SourceOut]
