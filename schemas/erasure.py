"""What an erasure removed (DELETE /v1/sessions/{id}, DELETE /v1/viewers/{id})."""

from pydantic import BaseModel, Field


class ErasureReport(BaseModel):
    deleted: dict[str, int] = Field(
        description="Items removed by kind: turns, segments, feedback, audio_files, sessions, "
        "context_turns, session_events, memories, ..."
    )
