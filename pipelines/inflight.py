"""Which work still has a message in the broker: waiting in a queue, or delivered and unacked.

The sweep must tell a job queued behind a backlog (leave it alone) from one whose message is gone
(send it again). With Celery's Redis transport a waiting message is an entry of the queue's list
(one list per priority step, ``<queue>\\x06\\x16<priority>`` beyond the first) and a delivered one
sits in the ``unacked`` hash until it is acknowledged — while its task runs, while it waits for a
retry's countdown, and after its worker died until the visibility timeout restores it. This
module reads that layout (kombu's, stable since 4.x) and nothing else.
"""

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis

from pipelines.queues import Queue, TaskName

PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
UNACKED_KEY = "unacked"
ALL_QUEUES = tuple(queue.value for queue in Queue)
JOB_TASKS = {
    TaskName.transcribe_utterance,
    TaskName.reply,
    TaskName.synthesize_segment,
    TaskName.animate_segment,
}


@dataclass
class InFlight:
    jobs: set[str] = field(default_factory=set)
    batch_files: set[tuple[str, int]] = field(default_factory=set)

    def add(self, task: str, args: list[Any]) -> None:
        if task in JOB_TASKS and args:
            self.jobs.add(str(args[0]))
        elif task == TaskName.transcribe_file and len(args) >= 2:
            self.batch_files.add((str(args[0]), int(args[1])))


def queue_keys(queue: str) -> list[str]:
    return [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS]


def task_and_args(message: dict[str, Any]) -> tuple[str, list[Any]] | None:
    """(task name, positional args) of one stored Celery message; None for anything else."""
    try:
        body = message["body"]
        if (message.get("properties") or {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return str(message["headers"]["task"]), list(args)
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def snapshot(client: redis.Redis, queues: Iterable[str] = ALL_QUEUES) -> InFlight:
    """Every job and batch file with a message waiting or unacked, as Redis holds them now."""
    messages: list[Any] = []
    for queue in queues:
        for key in queue_keys(queue):
            messages.extend(_loads(raw) for raw in client.lrange(key, 0, -1))
    for entry in client.hvals(UNACKED_KEY):
        stored = _loads(entry)  # [message, exchange, routing key]
        messages.append(stored[0] if isinstance(stored, list) and stored else None)
    found = InFlight()
    for message in messages:
        parsed = task_and_args(message) if isinstance(message, dict) else None
        if parsed is not None:
            found.add(*parsed)
    return found


def _loads(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
