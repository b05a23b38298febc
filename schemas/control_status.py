"""What the control panel reads: routing, queues, workers online, recent turns and batches."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.batches import BatchProgress, BatchStatus
from schemas.jobs import JobError, JobKind, JobStatus, Stage, StageTiming


class Device(StrEnum):
    gpu = "gpu"
    cpu = "cpu"


class SttRouting(BaseModel):
    mode: str = Field(description="auto | gpu | cpu, as set with PUT /v1/control/stt.")
    routes_to: Device = Field(description="Where a new utterance's speech-to-text goes now.")
    gpu_workers: list[str] = Field(description="GPU STT workers with a live heartbeat (a usable GPU).")


class QueueStatus(BaseModel):
    name: str
    depth: int = Field(description="Messages waiting (not yet taken by a worker).")
    workers: list[str] = Field(description="Workers online that consume this queue.")


class PoolStatus(BaseModel):
    pool: str = Field(description="A pool of pipelines/queues.WORKER_POOLS, or 'other'.")
    device: Device
    queues: list[str]
    workers: list[str] = Field(description="Workers online in this pool (Celery host names).")


class ControlLinks(BaseModel):
    docs: str
    flower: str
    grafana: str


class ControlStatus(BaseModel):
    stt: SttRouting
    queues: list[QueueStatus]
    pools: list[PoolStatus]
    workers_checked: bool = Field(
        description="False when the broker did not answer the worker census (workers then read as none)."
    )
    links: ControlLinks
    checked_at: datetime


class JobSummary(BaseModel):
    """A turn as the operator scans it: what came in, what went out, and how long each stage took."""

    id: str
    session_id: str | None
    kind: JobKind
    status: JobStatus
    stage: Stage | None = None
    input_text: str | None = Field(default=None, description="Typed text, or the transcript once heard.")
    reply_text: str | None = None
    segments_total: int | None = None
    timings: dict[str, StageTiming] = Field(
        default_factory=dict, description="Per stage; tts and animation summed over the segments."
    )
    total_s: float | None = Field(default=None, description="From creation to the last update, once ended.")
    error: JobError | None = None
    created_at: datetime
    updated_at: datetime


class BatchSummary(BaseModel):
    id: str
    status: BatchStatus
    progress: BatchProgress
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
