"""What speech-to-text returns, stored on jobs and batch files alike."""

from pydantic import BaseModel, Field


class Word(BaseModel):
    word: str
    start: float
    end: float
    probability: float | None = None


class TranscriptSegment(BaseModel):
    id: int
    start: float
    end: float
    text: str
    words: list[Word] = Field(default_factory=list)


class Transcript(BaseModel):
    text: str
    language: str | None = None
    language_probability: float | None = None
    duration_s: float = 0.0
    segments: list[TranscriptSegment] = Field(default_factory=list)
    backend: str = ""
    model: str = ""
