"""Send the next piece of work by task name; the one place that knows each task's arguments."""

from celery import Celery

from pipelines.queues import TaskName, batch_stt_queue, live_stt_queue
from pipelines.stt_routing import SttRouter


class Dispatcher:
    def __init__(self, app: Celery, router: SttRouter) -> None:
        self.app = app
        self.router = router

    def transcribe_utterance(self, job_id: str) -> None:
        queue = live_stt_queue(self.router.use_gpu())
        self.app.send_task(TaskName.transcribe_utterance, args=[job_id], queue=queue.value)

    def transcribe_file(self, batch_id: str, index: int) -> None:
        queue = batch_stt_queue(self.router.use_gpu())
        self.app.send_task(TaskName.transcribe_file, args=[batch_id, index], queue=queue.value)

    def reply(self, job_id: str) -> None:
        self.app.send_task(TaskName.reply, args=[job_id])

    def synthesize(self, job_id: str, attempt: int, index: int) -> None:
        self.app.send_task(TaskName.synthesize_segment, args=[job_id, attempt, index])

    def animate(self, job_id: str, attempt: int, index: int) -> None:
        self.app.send_task(TaskName.animate_segment, args=[job_id, attempt, index])

    def deliver_webhook(self, kind: str, object_id: str) -> None:
        self.app.send_task(TaskName.deliver_webhook, args=[kind, object_id])
