"""A live turn's coordination in Redis: has it ended, and is its last segment ready?

MongoDB stays the record of every turn; these keys only decide things on the hot path without
asking it. On the embedded MongoDB-protocol server a conditional update and its read-back cost
about 6 ms, and every segment's tts and animation tasks asked twice; a Redis transaction costs
0.2 ms. Each key is a cache of something MongoDB can answer too, so a lost key costs a slower
answer, never a wrong one:

- ``ended``: set once a job has ended (completed, failed, interrupted). Tasks still queued for it
  skip their work. Missing, they do the work and the segment's fenced update stays the guard.
- ``ready`` and ``total``: the indexes of segments whose track is stored, and how many segments the
  reply has once it is final. Whoever makes the set complete (the last animation, or the LLM
  finishing after every track) completes the turn; MongoDB's conditional update still lets only
  one caller do so. Missing ``total`` (a key lost, a line that never set it): MongoDB is asked.
"""

import redis

from pipelines.interrupts import cancel_flag

TURN_KEY_TTL_S = 3600
REPLY_OPEN = -1  # the total while the LLM still writes the reply


def ended_key(job_id: str) -> str:
    return f"turn:{job_id}:ended"


def ready_key(job_id: str, attempt: int) -> str:
    return f"turn:{job_id}:{attempt}:ready"


def total_key(job_id: str, attempt: int) -> str:
    return f"turn:{job_id}:{attempt}:total"


def mark_ended(client: redis.Redis, job_id: str) -> None:
    client.set(ended_key(job_id), b"1", ex=TURN_KEY_TTL_S)


def has_ended(client: redis.Redis, job_id: str) -> bool:
    """Ended or interrupted (an interruption flags the job before its update lands)."""
    return bool(client.exists(ended_key(job_id), cancel_flag(job_id)))


def record_ready(client: redis.Redis, job_id: str, attempt: int, index: int) -> tuple[int, int | None]:
    """Add segment ``index`` to the ready set; (ready count, total or None when not known here)."""
    with client.pipeline(transaction=True) as pipe:
        pipe.sadd(ready_key(job_id, attempt), index)
        pipe.expire(ready_key(job_id, attempt), TURN_KEY_TTL_S)
        pipe.scard(ready_key(job_id, attempt))
        pipe.get(total_key(job_id, attempt))
        _, _, ready, total = pipe.execute()
    return int(ready), None if total is None else int(total)


def open_reply(client: redis.Redis, job_id: str, attempt: int) -> None:
    """The reply of ``attempt`` is being written: no segment can complete the turn yet."""
    client.set(total_key(job_id, attempt), REPLY_OPEN, ex=TURN_KEY_TTL_S)


def reply_total(client: redis.Redis, job_id: str, attempt: int) -> int | None:
    """The final reply's segment count, REPLY_OPEN while it is written, None when unknown here."""
    total = client.get(total_key(job_id, attempt))
    return None if total is None else int(total)


def record_total(client: redis.Redis, job_id: str, attempt: int, total: int) -> int:
    """Record how many segments the final reply has; how many are ready already."""
    with client.pipeline(transaction=True) as pipe:
        pipe.set(total_key(job_id, attempt), total, ex=TURN_KEY_TTL_S)
        pipe.scard(ready_key(job_id, attempt))
        _, ready = pipe.execute()
    return int(ready)
