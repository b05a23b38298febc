"""A live-chat turn ("job") as clients poll it: status, stage, timings and outputs.

State machine: ``queued`` → ``running`` (with ``stage`` = stt | llm | tts | animation) →
``completed`` | ``failed`` (with ``error``). Segments appear one by one while the LLM still speaks.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from schemas.avatar import AvatarCommand
from schemas.errors import ErrorCode
from schemas.transcription import Transcript


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    interrupted = "interrupted"  # cut off by the viewer (barge-in): see JobOut.interruption


class JobKind(StrEnum):
    """What started the job (``JobOut.kind``)."""

    audio = "audio"  # a viewer's spoken utterance: stt → llm → tts → animation
    text = "text"  # a viewer's typed utterance: llm → tts → animation
    speak = "speak"  # a verbatim line said in a session: tts → animation, no llm
    avatar = "avatar"  # a manual avatar command: completed at once, nothing to run
    animation = "animation"  # a verbatim line without a session (pre-baked audio and tracks)


class Stage(StrEnum):
    stt = "stt"
    llm = "llm"
    tts = "tts"
    animation = "animation"


class StageTiming(BaseModel):
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float | None = Field(default=None, description="Wall time the stage's own work took.")


class JobError(BaseModel):
    code: ErrorCode
    message: str
    stage: Stage | None = None


class Reply(BaseModel):
    text: str = ""
    emotion: str = "neutral"
    motions: list[str] = Field(default_factory=list)
    done: bool = False


class SegmentOut(BaseModel):
    index: int
    text: str
    emotion: str = "neutral"
    motions: list[str] = Field(default_factory=list)
    audio_id: str | None = None
    audio_url: str | None = None
    audio_format: str | None = None
    sample_rate: int | None = None
    duration_s: float | None = None
    animation: dict[str, Any] | None = Field(
        default=None, description="AnimationTrack (schemas/json/animation.schema.json) once ready."
    )
    ready: bool = False
    timings: dict[str, StageTiming] = Field(default_factory=dict, description="This segment's tts/animation.")


class PlaybackPosition(BaseModel):
    """Where the listener was when they cut the avatar off: a segment and an offset into its audio."""

    segment: int = Field(ge=0)
    offset_s: float = Field(ge=0, le=3600)


class Interruption(BaseModel):
    at: datetime
    by: str = Field(
        description="'cancel' (POST /v1/jobs/{id}/cancel), 'utterance' or 'speak' (a new one with interrupt)."
    )
    heard_text: str = Field(description="What the listener heard of the reply: kept in history and context.")
    heard_segments: int = Field(description="Segments heard, the last one possibly in part.")


class CancelRequest(BaseModel):
    played: PlaybackPosition | None = Field(
        default=None,
        description="The client's playback position; without it, what was delivered counts as heard.",
    )


class JobOut(BaseModel):
    id: str
    session_id: str | None = Field(description="None for a session-less animation job.")
    kind: JobKind
    status: JobStatus
    stage: Stage | None = None
    persona: str
    persona_version: str
    input_text: str | None = None
    transcript: Transcript | None = None
    reply: Reply | None = None
    segments: list[SegmentOut] = Field(default_factory=list)
    segments_total: int | None = None
    timings: dict[str, StageTiming] = Field(default_factory=dict)
    error: JobError | None = None
    interruption: Interruption | None = None
    command: AvatarCommand | None = Field(default=None, description="kind 'avatar': the command sent.")
    created_at: datetime
    updated_at: datetime
    version: str | None = Field(
        default=None,
        description="The job's progress version (its event log's last id): pass it back as "
        "`since` to long-poll for the next change.",
    )


# Control characters other than tab and line breaks have no place in chat text (NUL, escapes, bells).
PRINTABLE_TEXT = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
# A viewer as the client names them (a platform user id, e.g. "twitch:12345"): memories, history
# and erasure (DELETE /v1/viewers/{viewer_id}) are per viewer.
VIEWER_ID = r"^[A-Za-z0-9_.:@-]{1,128}$"
VIEWER_NAME_MAX = 64


class ViewerFields(BaseModel):
    """Who said an utterance; the same rules for a JSON body and a multipart form."""

    viewer_id: str | None = Field(
        default=None,
        pattern=VIEWER_ID,
        description="Who said it (your id for the viewer), kept with the turn.",
    )
    viewer_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=VIEWER_NAME_MAX,
        pattern=PRINTABLE_TEXT,
        description="How the viewer appears in chat, told to the persona with what it remembers of them.",
    )


class TextUtterance(ViewerFields):
    text: str = Field(min_length=1, max_length=2000, pattern=PRINTABLE_TEXT)
    callback_url: str | None = Field(default=None, description="Signed webhook called when the job ends.")
    interrupt: bool = Field(
        default=False, description="Cut off the session's unfinished turns first (barge-in)."
    )


class SpeakRequest(BaseModel):
    """A line the avatar says as written (no LLM); emotion and motion tags as in a reply."""

    text: str = Field(
        min_length=1,
        max_length=2000,
        pattern=PRINTABLE_TEXT,
        examples=["[happy] Thanks for the sub! [wave]"],
    )
    interrupt: bool = Field(
        default=False, description="Cut off the session's unfinished turns first; else it queues after them."
    )
    callback_url: str | None = Field(default=None, description="Signed webhook called when the job ends.")


class AnimationRequest(BaseModel):
    """Text to voice and animate without a session (pre-baked lines); tags as in a reply."""

    text: str = Field(min_length=1, max_length=2000, pattern=PRINTABLE_TEXT)
    persona: str | None = Field(
        default=None,
        max_length=64,
        description="Whose voice and tag vocabulary; the default persona if omitted.",
    )
    callback_url: str | None = Field(default=None, description="Signed webhook called when the job ends.")


class JobAccepted(BaseModel):
    job_id: str
    status: JobStatus
    status_url: str
