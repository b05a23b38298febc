"""Poison messages: count each task message's deliveries, and keep the ones given up on.

Late acks requeue a message whose worker process died, which is right for a worker killed by
accident and wrong for an input that kills every worker it reaches (a native crash, an OOM): that
one would come back forever. A counter per message (its task id and retry number, so Celery's own
retries start afresh) stops it after ``max_deliveries``; the payload is kept in the
``dead_letters`` collection for a person to look at, and the job fails with ``worker_crashed``.
"""

from typing import Any

import redis

from pipelines.jobs import utcnow
from pipelines.metrics import DEAD_LETTERS
from pipelines.storage import Storage

COUNTER_TTL_S = 7 * 86400


class DeliveryCounter:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def count(self, task_id: str, retries: int) -> int:
        """Count this delivery; how many deliveries this message has had, this one included."""
        key = f"deliveries:{task_id}:{retries}"
        with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, COUNTER_TTL_S)
            deliveries, _ = pipe.execute()
        return int(deliveries)


def dead_letter(
    storage: Storage,
    *,
    task_id: str,
    task_name: str,
    args: list[Any],
    retries: int,
    deliveries: int,
    reason: str,
) -> None:
    """Keep a message that will not be tried again (idempotent: one document per message)."""
    DEAD_LETTERS.labels(task_name).inc()
    storage.dead_letters.update_one(
        {"_id": f"{task_id}:{retries}"},
        {
            "$set": {"task": task_name, "args": args, "deliveries": deliveries, "reason": reason},
            "$setOnInsert": {"at": utcnow()},
        },
        upsert=True,
    )
