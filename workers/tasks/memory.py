"""The memory queue's tasks: distil a finished turn into memories, keep the store compact (after
every few dozen new rows, and on the beat's timer).

Off the live path: a turn's follow-up sends ``distill_turn`` after the turn has completed, so
nothing here can delay a reply. A failure here never touches the job (it has already ended): it
is retried, then logged.
"""

from celery import Task

from pipelines.logging_setup import get_logger
from pipelines.memory_distill import distill_turn
from pipelines.memory_store import MemoryStore
from pipelines.queues import TaskName
from schemas.errors import ErrorCode
from workers.memory_runtime import memory_embedder, memory_store
from workers.runtime import app, settings, storage
from workers.tasks.base import INFRASTRUCTURE_ERRORS, run_stage

log = get_logger(__name__)


@app.task(name=TaskName.distill_memories, bind=True, max_retries=settings().stage_max_retries)
def distill(self: Task, job_id: str) -> None:
    def record_failure(code: ErrorCode, message: str) -> None:
        log.warning("memories not distilled", job_id=job_id, error_code=code.value, reason=message)

    def body() -> None:
        store = memory_store()
        stored = distill_turn(
            storage(), store, memory_embedder(), job_id, summary_lines=settings().memory_summary_lines
        )
        log.info("memories distilled", job_id=job_id, stored=stored)
        if stored:
            keep_the_unindexed_tail_small(store)

    run_stage(self, record_failure=record_failure, body=body)


def keep_the_unindexed_tail_small(store: MemoryStore) -> None:
    """Recall reads rows written since the last optimize without the index: optimize after a few
    dozen, not only on the timer. A failure (another process optimizing) waits for the next write."""
    try:
        if store.optimize_if_behind(
            max_unindexed_rows=settings().memory_optimize_after_rows,
            keep_versions_s=settings().memory_keep_versions_s,
        ):
            log.info("memory store optimized", reason="unindexed rows")
    except Exception as exc:
        log.warning("memory store not optimized", error=repr(exc))


@app.task(name=TaskName.optimize_memories, bind=True)
def optimize(self: Task) -> None:
    """Compact the store and index new rows (the notify worker's beat sends this)."""
    try:
        memory_store().optimize(keep_versions_s=settings().memory_keep_versions_s)
    except INFRASTRUCTURE_ERRORS as exc:  # the next scheduled run tries again
        log.warning("memory store not optimized", error=repr(exc))
