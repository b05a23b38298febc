"""Batch transcription: many files, one task each, progress per file."""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from schemas.jobs import JobError
from schemas.transcription import Transcript

OutputFormat = str  # one of: json, txt, srt, vtt


class BatchStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"  # every file finished; some may have failed (see files_failed)
    failed = "failed"  # every file failed


class FileStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"


class BatchOptions(BaseModel):
    language: str | None = Field(default=None, description="ISO code; detected when omitted.")
    model: str | None = Field(default=None, description="One of the allowed STT models; default if omitted.")
    word_timestamps: bool = True
    task: Literal["transcribe", "translate"] = Field(
        default="transcribe", description="translate: the speech rendered in English (multilingual models)."
    )
    formats: list[str] = Field(default_factory=lambda: ["json", "txt", "srt", "vtt"])


class BatchFileOut(BaseModel):
    index: int
    filename: str
    status: FileStatus
    duration_s: float | None = None
    transcript: Transcript | None = None
    error: JobError | None = None
    downloads: dict[str, str] = Field(default_factory=dict)
    seconds: float | None = None


class BatchProgress(BaseModel):
    files_total: int
    files_done: int
    files_failed: int


class BatchOut(BaseModel):
    id: str
    status: BatchStatus
    options: BatchOptions
    progress: BatchProgress
    files: list[BatchFileOut]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None


class BatchAccepted(BaseModel):
    batch_id: str
    status: BatchStatus
    status_url: str
    files_total: int
