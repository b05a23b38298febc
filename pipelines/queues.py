"""Queue and task names: the one place that says which work goes where.

Queues are declared explicitly (no implicit creation) and tasks are sent by name, so the API never
imports worker code. Live and batch STT have separate queues on separate GPU/CPU pools, so a long
batch never sits in front of a viewer's utterance.
"""

from enum import StrEnum


class Queue(StrEnum):
    stt_live_cpu = "stt.live.cpu"
    stt_live_gpu = "stt.live.gpu"
    stt_batch_cpu = "stt.batch.cpu"
    stt_batch_gpu = "stt.batch.gpu"
    llm = "llm"
    tts = "tts"
    animation = "animation"
    notify = "notify"
    maintenance = "maintenance"
    memory = "memory"  # long-term memory: distilled off the live path
    chat = "chat"  # live platform chat: which viewer line the avatar answers next


class TaskName(StrEnum):
    transcribe_utterance = "stt.transcribe_utterance"
    transcribe_file = "stt.transcribe_file"
    listen = "stt.listen"  # a realtime listen, served on a thread of the worker that claims it
    transcribe_oneshot = "stt.transcribe_oneshot"  # OpenAI-compatible route: the caller awaits it
    reply = "llm.reply"
    synthesize_segment = "tts.synthesize_segment"
    stream_speech = "tts.stream_speech"  # OpenAI-compatible route: audio streamed as it is made
    animate_segment = "animation.animate_segment"
    deliver_webhook = "notify.deliver_webhook"
    recover_stalled = "maintenance.recover_stalled"
    apply_retention = "maintenance.apply_retention"
    distill_memories = "memory.distill_turn"
    optimize_memories = "memory.optimize_store"
    select_chat_replies = "chat.select_replies"


# Fixed routes; STT tasks are routed at send time by the CPU/GPU switch (pipelines/stt_routing.py),
# and fall back to the CPU queues when sent without an explicit queue.
TASK_ROUTES: dict[str, dict[str, str]] = {
    TaskName.transcribe_utterance: {"queue": Queue.stt_live_cpu},
    TaskName.transcribe_file: {"queue": Queue.stt_batch_cpu},
    TaskName.listen: {"queue": Queue.stt_live_cpu},
    TaskName.transcribe_oneshot: {"queue": Queue.stt_live_cpu},
    TaskName.reply: {"queue": Queue.llm},
    TaskName.synthesize_segment: {"queue": Queue.tts},
    TaskName.stream_speech: {"queue": Queue.tts},
    TaskName.animate_segment: {"queue": Queue.animation},
    TaskName.deliver_webhook: {"queue": Queue.notify},
    TaskName.recover_stalled: {"queue": Queue.maintenance},
    TaskName.apply_retention: {"queue": Queue.maintenance},
    TaskName.distill_memories: {"queue": Queue.memory},
    TaskName.optimize_memories: {"queue": Queue.memory},
    TaskName.select_chat_replies: {"queue": Queue.chat},
}


class WorkerKind(StrEnum):
    """What a worker process runs: it imports only this kind's task modules (and models)."""

    stt = "stt"
    llm = "llm"
    tts = "tts"
    animation = "animation"
    notify = "notify"
    memory = "memory"
    chat = "chat"  # platform chat connectors (Twitch, YouTube) and the reply selector


# The tasks each kind registers. Senders address tasks by name, so a worker needs exactly the
# tasks routed to the queues it consumes.
KIND_TASKS: dict[WorkerKind, list[TaskName]] = {
    WorkerKind.stt: [
        TaskName.transcribe_utterance,
        TaskName.transcribe_file,
        TaskName.transcribe_oneshot,
        TaskName.listen,
    ],
    WorkerKind.llm: [TaskName.reply],
    WorkerKind.tts: [TaskName.synthesize_segment, TaskName.stream_speech],
    WorkerKind.animation: [TaskName.animate_segment],
    WorkerKind.memory: [TaskName.distill_memories, TaskName.optimize_memories],
    WorkerKind.notify: [TaskName.deliver_webhook, TaskName.recover_stalled, TaskName.apply_retention],
    WorkerKind.chat: [TaskName.select_chat_replies],
}

# Which queues each pool of workers consumes (`celery worker -Q ...`), and its kind.
WORKER_POOLS: dict[str, list[Queue]] = {
    "stt-cpu": [Queue.stt_live_cpu, Queue.stt_batch_cpu],
    "stt-gpu": [Queue.stt_live_gpu, Queue.stt_batch_gpu],
    "llm": [Queue.llm],
    "tts": [Queue.tts],
    "animation": [Queue.animation],
    "notify": [Queue.notify, Queue.maintenance],
    "memory": [Queue.memory],
    "chat": [Queue.chat],
}
POOL_KINDS: dict[str, WorkerKind] = {
    "stt-cpu": WorkerKind.stt,
    "stt-gpu": WorkerKind.stt,
    "llm": WorkerKind.llm,
    "tts": WorkerKind.tts,
    "animation": WorkerKind.animation,
    "notify": WorkerKind.notify,
    "memory": WorkerKind.memory,
    "chat": WorkerKind.chat,
}


def live_stt_queue(gpu: bool) -> Queue:
    return Queue.stt_live_gpu if gpu else Queue.stt_live_cpu


def batch_stt_queue(gpu: bool) -> Queue:
    return Queue.stt_batch_gpu if gpu else Queue.stt_batch_cpu
