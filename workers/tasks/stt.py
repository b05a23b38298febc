"""The STT queues' tasks: live utterances and batch files, on the CPU or the GPU pool."""

import contextlib
import socket
import threading

from celery import Task
from celery.signals import worker_ready, worker_shutdown

from pipelines.batches import fail_batch_file
from pipelines.queues import Queue, TaskName
from pipelines.stages.batch import transcribe_batch_file
from pipelines.stages.stt import transcribe_utterance
from pipelines.stt_routing import HEARTBEAT_TTL_S, SttRouter
from schemas.jobs import Stage
from workers.backends import speech_to_text
from workers.device import ctranslate2_device, torch_device
from workers.runtime import app, redis_client, settings, stage_context
from workers.tasks.base import job_failure_recorder, run_stage


@app.task(name=TaskName.transcribe_utterance, bind=True, max_retries=settings().stage_max_retries)
def transcribe(self: Task, job_id: str) -> None:
    run_stage(
        self,
        record_failure=job_failure_recorder(job_id, Stage.stt),
        body=lambda: transcribe_utterance(
            stage_context(), lambda model: speech_to_text(settings(), model), job_id
        ),
    )


@app.task(name=TaskName.transcribe_file, bind=True, max_retries=settings().stage_max_retries)
def transcribe_file(self: Task, batch_id: str, index: int) -> None:
    run_stage(
        self,
        record_failure=lambda code, message: fail_batch_file(
            stage_context(), batch_id, index, code=code, message=message
        ),
        body=lambda: transcribe_batch_file(
            stage_context(), lambda model: speech_to_text(settings(), model), batch_id, index
        ),
        count_deliveries=False,
    )


_stop_heartbeat = threading.Event()


def stt_device() -> str:
    """The device the configured STT backend would run on, asked of its own runtime."""
    config = settings()
    if config.stt_backend == "openai_whisper":
        return torch_device(config.stt_device)
    return ctranslate2_device(config.stt_device)


def _consumes_gpu_queues(sender: object) -> bool:
    consumer = getattr(sender, "consumer", None) or getattr(
        getattr(sender, "controller", None), "consumer", None
    )
    task_consumer = getattr(consumer, "task_consumer", None)
    names = {q.name for q in getattr(task_consumer, "queues", [])}
    return bool(names & {Queue.stt_live_gpu.value, Queue.stt_batch_gpu.value})


@worker_ready.connect
def _announce_gpu_worker(sender: object = None, **_: object) -> None:
    """A worker on the GPU queues with a usable GPU keeps a heartbeat so `auto` routes to it."""
    if not _consumes_gpu_queues(sender) or stt_device() != "cuda":
        return
    router = SttRouter(redis_client())
    name = getattr(sender, "hostname", None) or socket.gethostname()

    def beat() -> None:
        while not _stop_heartbeat.wait(HEARTBEAT_TTL_S / 3):
            with contextlib.suppress(Exception):  # Redis restarting: try again next beat
                router.heartbeat(name)

    router.heartbeat(name)
    threading.Thread(target=beat, name="stt-gpu-heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop(**_: object) -> None:
    _stop_heartbeat.set()
