"""Send the next piece of work by task name; the one place that knows each task's arguments."""

import time

from celery import Celery

from pipelines.queues import TaskName, batch_stt_queue, live_stt_queue
from pipelines.segment_work import SegmentWork
from pipelines.stt_routing import SttRouter
from pipelines.time_limits import TimeLimit, TimeLimits

# When the message was sent (Unix seconds): the worker measures its queue wait from it
# (workers/stage_metrics.py). Celery puts no timestamp on a message of its own.
SENT_AT_HEADER = "vtuber_sent_at"


class Dispatcher:
    def __init__(self, app: Celery, router: SttRouter, limits: TimeLimits) -> None:
        self.app = app
        self.router = router
        self.limits = limits

    def _send(
        self,
        name: str,
        *,
        args: list[object],
        kwargs: dict[str, object] | None = None,
        queue: str | None = None,
        limit: TimeLimit | None = None,
    ) -> None:
        # Senders never wait for a result, so they must not subscribe to the result backend either.
        options: dict[str, object] = {"queue": queue} if queue else {}
        if kwargs:  # Flower and the broker's logs show the ids, not the turn's text
            options["kwargsrepr"] = repr(dict.fromkeys(kwargs, "..."))
        limit = limit or self.limits.for_task(name)
        self.app.send_task(
            name,
            args=args,
            kwargs=kwargs,
            ignore_result=True,
            soft_time_limit=limit.soft_s,
            time_limit=limit.hard_s,
            headers={SENT_AT_HEADER: time.time()},
            **options,
        )

    def transcribe_utterance(self, job_id: str) -> None:
        queue = live_stt_queue(self.router.use_gpu())
        self._send(TaskName.transcribe_utterance, args=[job_id], queue=queue.value)

    def transcribe_file(self, batch_id: str, index: int, *, audio_s: float) -> None:
        queue = batch_stt_queue(self.router.use_gpu())
        self._send(
            TaskName.transcribe_file,
            args=[batch_id, index],
            queue=queue.value,
            limit=self.limits.for_batch_file(audio_s),
        )

    def reply(self, job_id: str) -> None:
        self._send(TaskName.reply, args=[job_id])

    def synthesize(self, job_id: str, attempt: int, index: int, *, work: SegmentWork | None = None) -> None:
        """``work``: the turn and segment in the message (pipelines/segment_work.py), if at hand."""
        self._send(TaskName.synthesize_segment, args=[job_id, attempt, index], kwargs=_work(work))

    def animate(self, job_id: str, attempt: int, index: int, *, work: SegmentWork | None = None) -> None:
        self._send(TaskName.animate_segment, args=[job_id, attempt, index], kwargs=_work(work))

    def deliver_webhook(self, kind: str, object_id: str) -> None:
        self._send(TaskName.deliver_webhook, args=[kind, object_id])

    def distill_memories(self, job_id: str) -> None:
        self._send(TaskName.distill_memories, args=[job_id])


def _work(work: SegmentWork | None) -> dict[str, object] | None:
    return None if work is None else {"work": work}
