"""A session's past turns as a history client reads them: one page at a time, behind an opaque cursor."""

from datetime import datetime

from pydantic import BaseModel, Field

from schemas.feedback import FeedbackOut
from schemas.jobs import Interruption, JobError, JobKind, JobStatus, StageTiming


class ModelUsed(BaseModel):
    backend: str = ""
    model: str = ""


class TurnModels(BaseModel):
    """Which backend and model did each stage's work (None: the stage did not run or did not say)."""

    stt: ModelUsed | None = None
    llm: ModelUsed | None = None
    tts: ModelUsed | None = None


class SpokenSegment(BaseModel):
    """One spoken sentence of the reply (its animation track stays on ``GET /v1/jobs/{id}``)."""

    index: int
    text: str
    emotion: str = "neutral"
    audio_url: str | None = None
    duration_s: float | None = None


class HistoryTurn(BaseModel):
    job_id: str
    kind: JobKind = Field(
        description="audio/text: a viewer's turn; speak: a verbatim line; avatar: a command."
    )
    status: JobStatus
    viewer_id: str | None = None
    viewer_name: str | None = Field(default=None, description="How the viewer appeared in chat then.")
    persona: str
    persona_version: str
    user_text: str | None = Field(default=None, description="What the viewer typed, or the transcript.")
    input_audio_url: str | None = Field(default=None, description="The viewer's recording (kind audio).")
    transcript_language: str | None = None
    reply: str | None = None
    emotion: str | None = None
    motions: list[str] = Field(default_factory=list)
    segments: list[SpokenSegment] = Field(default_factory=list)
    interrupted: bool = False
    interruption: Interruption | None = None
    error: JobError | None = None
    models: TurnModels = Field(default_factory=TurnModels)
    timings: dict[str, StageTiming] = Field(default_factory=dict)
    feedback: list[FeedbackOut] = Field(default_factory=list)
    created_at: datetime


class HistoryPage(BaseModel):
    turns: list[HistoryTurn] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        default=None, description="Pass back as `cursor` for the older turns; None on the last page."
    )
