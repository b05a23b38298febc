"""The short-job path of the OpenAI-compatible transcription routes: the request waits for it.

The API stores the file, sends one ``stt.transcribe_oneshot`` message to the live STT queue (the
CPU or GPU pool, as the STT switch says) and waits on a Redis list for the worker's outcome; the
worker pushes exactly that outcome, which expires if nobody is waiting any more. No result backend
and no polling: BLPOP wakes the request the moment the outcome lands.
"""

import time
import uuid

import redis
import redis.asyncio as aioredis
from celery import Celery

from pipelines.dispatch import SENT_AT_HEADER
from pipelines.queues import TaskName, live_stt_queue
from pipelines.settings import Settings
from pipelines.stt_routing import SttRouter
from schemas.openai_audio import OneShotOutcome, OneShotTranscription

OUTCOME_PREFIX = "oneshot:stt:"
OUTCOME_GRACE_S = 60  # how long an outcome outlives the longest wait for it
_BLPOP_SLICE_S = 5  # under the async client's socket timeout


def new_request_id() -> str:
    return uuid.uuid4().hex


def outcome_key(request_id: str) -> str:
    return f"{OUTCOME_PREFIX}{request_id}"


def send_oneshot(
    app: Celery, router: SttRouter, settings: Settings, request: OneShotTranscription, *, audio_s: float
) -> None:
    """Queue the transcription on the live STT queue, with a time limit that grows with the audio."""
    soft_s = settings.stt_live_time_limit_s + settings.stt_batch_time_limit_per_audio_s * audio_s
    app.send_task(
        TaskName.transcribe_oneshot,
        args=[request.model_dump(mode="json")],
        queue=live_stt_queue(router.use_gpu()).value,
        ignore_result=True,
        soft_time_limit=soft_s,
        time_limit=soft_s + settings.task_kill_grace_s,
        headers={SENT_AT_HEADER: time.time()},
    )


def publish_outcome(client: redis.Redis, request_id: str, outcome: OneShotOutcome, *, ttl_s: float) -> None:
    """Called by the worker once per run; a redelivered message may publish again (the waiter
    takes the first and the rest expire)."""
    key = outcome_key(request_id)
    with client.pipeline(transaction=True) as pipe:
        pipe.rpush(key, outcome.model_dump_json())
        pipe.expire(key, int(ttl_s) + OUTCOME_GRACE_S)
        pipe.execute()


async def await_outcome(
    client: aioredis.Redis, request_id: str, *, timeout_s: float
) -> OneShotOutcome | None:
    """The worker's outcome, or None after ``timeout_s``."""
    key = outcome_key(request_id)
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        popped = await client.blpop([key], timeout=max(1, min(_BLPOP_SLICE_S, int(left))))
        if popped is not None:
            await client.delete(key)
            return OneShotOutcome.model_validate_json(popped[1])
    return None
