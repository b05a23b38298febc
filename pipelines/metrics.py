"""Pipeline metrics: what a stage, a turn or a batch file took, and how it ended.

Recorded in prometheus-client's default registry by whichever process does the work (a worker's
pool child, the sweep, the API for turns it fails at submission). A worker with several pool
processes writes them to ``PROMETHEUS_MULTIPROC_DIR`` and serves their sum
(workers/metrics_server.py). Every metric has labels, so a value is created on first use, in the
process that records it, after the pool has forked. Names carry the ``vtuber_`` prefix and a unit.
"""

from datetime import UTC, datetime
from functools import cache

from prometheus_client import Counter, Gauge, Histogram

# Seconds a viewer may wait, from "instant" to "gave up".
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120, 300)
LOAD_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)

STAGE_SECONDS = Histogram(
    "vtuber_stage_duration_seconds",
    "Time a stage task ran, from start to its outcome (ok, retry or failed)",
    ["stage", "backend", "queue", "outcome"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_WAIT_SECONDS = Histogram(
    "vtuber_queue_wait_seconds",
    "Time a stage task waited in its queue, from send to start (first delivery, first try)",
    ["stage", "backend", "queue"],
    buckets=LATENCY_BUCKETS,
)
TIME_TO_FIRST_AUDIO_SECONDS = Histogram(
    "vtuber_time_to_first_audio_seconds",
    "From a turn's creation until the audio of its first segment was stored",
    ["kind", "tts_backend"],
    buckets=LATENCY_BUCKETS,
)
TURN_SECONDS = Histogram(
    "vtuber_turn_duration_seconds",
    "From a turn's creation until it ended (completed, failed or interrupted)",
    ["kind", "status"],
    buckets=LATENCY_BUCKETS,
)
TURNS_FINISHED = Counter("vtuber_turns_finished_total", "Turns that ended, by outcome", ["kind", "status"])
TURN_FAILURES = Counter(
    "vtuber_turn_failures_total", "Failed turns by error code and the stage that failed", ["stage", "code"]
)
STAGE_FAILURES = Counter(
    "vtuber_stage_failures_total",
    "Stage tasks that ended in a failure, by error code",
    ["stage", "backend", "code"],
)
STAGE_RETRIES = Counter(
    "vtuber_stage_retries_total",
    "Stage tasks sent again by Celery's retry (retryable error or a dependency down)",
    ["stage", "backend", "reason"],
)
REDELIVERIES = Counter(
    "vtuber_task_redeliveries_total",
    "Task messages delivered again after their worker died (pipelines/deliveries.py)",
    ["task"],
)
DEAD_LETTERS = Counter(
    "vtuber_dead_letters_total", "Task messages given up on as poison (dead_letters collection)", ["task"]
)
MODEL_LOAD_SECONDS = Histogram(
    "vtuber_model_load_seconds",
    "Time to load a model into a worker process",
    ["kind", "backend"],
    buckets=LOAD_BUCKETS,
)
GPU_MEMORY_BYTES = Gauge(
    "vtuber_gpu_memory_allocated_bytes",
    "GPU memory torch has allocated, summed over a worker's live processes",
    ["device"],
    multiprocess_mode="livesum",
)
# NVML's view of each device, whatever runtime holds the memory (workers/gpu_memory.py). Every
# process of a worker sees the same device: the latest reading, not a sum.
GPU_DEVICE_USED_BYTES = Gauge(
    "vtuber_gpu_device_memory_used_bytes",
    "GPU memory in use on the device (NVML), as a worker sees it",
    ["device"],
    multiprocess_mode="mostrecent",
)
GPU_DEVICE_TOTAL_BYTES = Gauge(
    "vtuber_gpu_device_memory_total_bytes",
    "GPU memory installed on the device (NVML)",
    ["device"],
    multiprocess_mode="mostrecent",
)
BATCH_FILES = Counter(
    "vtuber_batch_files_total", "Batch transcription files finished, by outcome", ["outcome"]
)
BATCHES_FINISHED = Counter("vtuber_batches_finished_total", "Batches that ended, by outcome", ["status"])


def seconds_since(moment: datetime | None) -> float | None:
    """Seconds from a stored timestamp until now (MongoDB datetimes are UTC; naive ones too)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - moment).total_seconds())


TURN_OUTCOMES = ("completed", "failed", "interrupted")


@cache
def announce_turn_series(kind: str) -> None:
    """Every outcome at 0 from the first turn this process ends, so an error rate reads 0, not
    "no data", until the first failure."""
    for status in TURN_OUTCOMES:
        TURNS_FINISHED.labels(kind, status)


def record_turn_end(job: dict[str, object]) -> None:
    """Once per turn, by whoever ended it (the update that ends a job has exactly one winner)."""
    kind, status = str(job.get("kind") or "unknown"), str(job.get("status"))
    announce_turn_series(kind)
    TURNS_FINISHED.labels(kind, status).inc()
    created = job.get("created_at")
    elapsed = seconds_since(created) if isinstance(created, datetime) else None
    if elapsed is not None:
        TURN_SECONDS.labels(kind, status).observe(elapsed)
    error = job.get("error")
    if status == "failed" and isinstance(error, dict):
        TURN_FAILURES.labels(str(error.get("stage") or "none"), str(error.get("code"))).inc()
