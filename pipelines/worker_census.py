"""Which Celery workers are online and which queues each consumes, asked of the workers themselves.

One broadcast (``inspect().active_queues()``) answers for every worker at once; a worker that does
not reply within the timeout is not online. A worker's pool and device follow from its queues (a
worker on the GPU STT queues is a GPU worker), not from its host name, so renamed or extra workers
are still placed. The answer is kept for a few seconds: a panel polled by several operators costs
one broadcast per interval, not one per request.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from celery import Celery

from pipelines.queues import WORKER_POOLS, Queue

GPU_QUEUES = frozenset({Queue.stt_live_gpu.value, Queue.stt_batch_gpu.value})
OTHER_POOL = "other"


@dataclass(frozen=True)
class Census:
    """Worker name → the queue names it consumes; ``answered`` is False when the broadcast failed."""

    queues_by_worker: dict[str, list[str]] = field(default_factory=dict)
    answered: bool = True

    def workers_on(self, queue: str) -> list[str]:
        return sorted(name for name, queues in self.queues_by_worker.items() if queue in queues)

    def workers_in(self, pool: str) -> list[str]:
        return sorted(name for name, queues in self.queues_by_worker.items() if pool_of(queues) == pool)


def pool_of(queues: list[str]) -> str:
    """The pool whose queues these are (any overlap counts: a pool started with extra queues)."""
    for pool, pool_queues in WORKER_POOLS.items():
        if {q.value for q in pool_queues} & set(queues):
            return pool
    return OTHER_POOL


def is_gpu_pool(pool: str) -> bool:
    return bool({q.value for q in WORKER_POOLS.get(pool, [])} & GPU_QUEUES)


def take_census(celery: Celery, *, timeout_s: float) -> Census:
    try:
        replies = celery.control.inspect(timeout=timeout_s).active_queues() or {}
    except Exception:  # broker unreachable: say so instead of failing the panel
        return Census(answered=False)
    return Census({worker: sorted(q["name"] for q in queues or []) for worker, queues in replies.items()})


class CachedCensus:
    """The latest census, taken again once it is older than ``max_age_s`` (one taker at a time)."""

    def __init__(
        self, take: Callable[[], Census], *, max_age_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.take = take
        self.max_age_s = max_age_s
        self.clock = clock
        self.lock = threading.Lock()
        self.latest: Census | None = None
        self.taken_at = -float("inf")

    def get(self) -> Census:
        with self.lock:
            if self.latest is None or self.clock() - self.taken_at >= self.max_age_s:
                self.latest = self.take()
                self.taken_at = self.clock()
            return self.latest
