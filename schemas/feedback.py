"""Viewer or operator feedback on a turn: kept with the turn for evaluation and retraining data."""

from datetime import datetime

from pydantic import BaseModel, Field


class FeedbackIn(BaseModel):
    rating: int = Field(ge=-1, le=1, description="-1 bad, 0 neutral, 1 good.")
    comment: str = Field(default="", max_length=2000)
    corrected_reply: str | None = Field(
        default=None, max_length=4000, description="What the avatar should have said (for fine-tuning)."
    )


class FeedbackOut(FeedbackIn):
    id: str
    job_id: str
    created_at: datetime
    # Copied from the turn when the rating is stored, so ratings are queried without a join.
    session_id: str | None = None
    persona: str | None = None
    persona_version: str | None = None
    viewer_id: str | None = None


class FeedbackPage(BaseModel):
    feedback: list[FeedbackOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        default=None, description="Pass back as `cursor` for older ratings; None on the last page."
    )
