"""One stage task's run, measured and logged: its ids, queue wait, duration, outcome, error code.

The stage and backend come from the task's name and the settings, the ids from its arguments, so
the task modules stay as thin as they are. Queue wait is the time since the dispatcher stamped the
message (pipelines/dispatch.py ``SENT_AT_HEADER``); it is recorded for a message's first delivery
and first try only, since a retry or a redelivery carries the original stamp.
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from celery import Task

from pipelines.dispatch import SENT_AT_HEADER
from pipelines.logging_setup import bind, get_logger
from pipelines.metrics import (
    DEAD_LETTERS,
    GPU_DEVICE_TOTAL_BYTES,
    GPU_DEVICE_USED_BYTES,
    GPU_MEMORY_BYTES,
    QUEUE_WAIT_SECONDS,
    REDELIVERIES,
    STAGE_FAILURES,
    STAGE_RETRIES,
    STAGE_SECONDS,
)
from pipelines.queues import TaskName
from pipelines.settings import Settings
from schemas.errors import ErrorCode
from workers.gpu_memory import device_memory

log = get_logger("workers.stage")

# stage label, and the names of the task's positional arguments (bound to every log line).
TASK_STAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    TaskName.transcribe_utterance: ("stt", ("job_id",)),
    TaskName.transcribe_file: ("stt_batch", ("batch_id", "file_index")),
    # OpenAI-compatible routes: their one argument holds user text, so nothing is bound
    TaskName.transcribe_oneshot: ("stt_oneshot", ()),
    TaskName.stream_speech: ("tts_stream", ()),
    TaskName.reply: ("llm", ("job_id",)),
    TaskName.synthesize_segment: ("tts", ("job_id", "reply_attempt", "segment")),
    TaskName.animate_segment: ("animation", ("job_id", "reply_attempt", "segment")),
    TaskName.distill_memories: ("memory", ("job_id",)),
}
RETRY_REASONS = ("retryable_error", "dependency_unavailable")
COMMON_FAILURES = (ErrorCode.stage_timeout, ErrorCode.worker_crashed, ErrorCode.internal_error)


def backend_of(stage: str, settings: Settings) -> str:
    if stage.startswith("stt"):
        return settings.stt_backend
    if stage == "llm":
        return settings.llm_backend
    if stage.startswith("tts"):
        return settings.tts_backend
    if stage == "memory":
        return "sentence_transformers"
    return "text_phonemes"


@cache
def announce_series(stage: str, backend: str, queue: str, task_name: str) -> None:
    """Zero-valued series for the outcomes this process can report, once per process, so a
    dashboard shows 0 (not "no data") until the first failure, retry or redelivery."""
    prefix = "stt_" if stage.startswith("stt") else f"{stage}_"
    codes = [c for c in ErrorCode if c.value.startswith(prefix) or c in COMMON_FAILURES]
    if stage.startswith("stt"):
        codes += [c for c in ErrorCode if c.value.startswith("audio_")]
    for code in codes:
        STAGE_FAILURES.labels(stage, backend, code.value)
    for reason in RETRY_REASONS:
        STAGE_RETRIES.labels(stage, backend, reason)
    REDELIVERIES.labels(task_name)
    DEAD_LETTERS.labels(task_name)


def record_gpu_memory() -> None:
    """Each GPU's memory in use (NVML, any runtime), and where torch is loaded (openai-whisper) and
    sees a GPU, what torch itself has allocated."""
    for device in device_memory():
        GPU_DEVICE_USED_BYTES.labels(device.device).set(device.used_bytes)
        GPU_DEVICE_TOTAL_BYTES.labels(device.device).set(device.total_bytes)
    torch: Any = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return
    for index in range(torch.cuda.device_count()):
        GPU_MEMORY_BYTES.labels(f"cuda:{index}").set(torch.cuda.memory_allocated(index))


@dataclass
class StageRun:
    task_name: str
    stage: str
    backend: str
    queue: str
    attempt: int
    sent_at: float | None
    started_at: float = field(default_factory=time.perf_counter)
    deliveries: int = 1
    redelivered: bool = False  # the broker's own flag: restored after a lost ack or a dead worker
    failed_code: str | None = None

    @classmethod
    def begin(cls, task: Task, settings: Settings) -> "StageRun":
        request = task.request
        stage, arg_names = TASK_STAGES.get(str(task.name), (str(task.name), ()))
        delivery_info = request.delivery_info or {}
        queue = str(delivery_info.get("routing_key") or "unknown")
        headers = request.headers or {}
        sent_at = headers.get(SENT_AT_HEADER, getattr(request, SENT_AT_HEADER, None))
        run = cls(
            task_name=str(task.name),
            stage=stage,
            backend=backend_of(stage, settings),
            queue=queue,
            attempt=int(request.retries or 0) + 1,
            sent_at=float(sent_at) if isinstance(sent_at, int | float) else None,
            redelivered=bool(delivery_info.get("redelivered")),
        )
        bind(
            stage=stage,
            backend=run.backend,
            queue=queue,
            attempt=run.attempt,
            **dict(zip(arg_names, request.args or (), strict=False)),
        )
        announce_series(stage, run.backend, queue, run.task_name)
        return run

    def delivered(self, deliveries: int | None = None) -> None:
        """This delivery, as counted by the caller (pipelines/deliveries.py), or else as the broker
        flags it (batch files count their own claims)."""
        self.deliveries = deliveries if deliveries is not None else 2 if self.redelivered else 1
        if self.deliveries > 1:
            bind(delivery=self.deliveries)
            REDELIVERIES.labels(self.task_name).inc()

    def started(self) -> None:
        """The work begins (the poison check passed): its wait in the queue ends here."""
        if self.sent_at is not None and self.attempt == 1 and self.deliveries == 1 and not self.redelivered:
            waited = max(0.0, time.time() - self.sent_at)
            QUEUE_WAIT_SECONDS.labels(self.stage, self.backend, self.queue).observe(waited)
            bind(queue_wait_s=round(waited, 4))
        log.info("stage started")

    def counting_failures(
        self, record_failure: Callable[[ErrorCode, str], None]
    ) -> Callable[[ErrorCode, str], None]:
        def record(code: ErrorCode, message: str) -> None:
            self.failed_code = code.value
            STAGE_FAILURES.labels(self.stage, self.backend, code.value).inc()
            record_failure(code, message)

        return record

    def finish(self, outcome: str, *, reason: str | None = None, **fields: Any) -> None:
        seconds = time.perf_counter() - self.started_at
        STAGE_SECONDS.labels(self.stage, self.backend, self.queue, outcome).observe(seconds)
        if reason:
            STAGE_RETRIES.labels(self.stage, self.backend, reason).inc()
        record_gpu_memory()
        # The caller's fields win (a retry names the code it retries for): one value per key.
        line = {"outcome": outcome, "duration_s": round(seconds, 4), "error_code": self.failed_code, **fields}
        if outcome == "failed":
            log.warning("stage failed", **line)
        elif outcome == "retry":
            log.warning("stage will be retried", reason=reason, **line)
        else:
            log.info("stage finished", **line)
