"""Per-process connections for worker tasks, opened lazily after the pool has forked."""

import gc
from functools import lru_cache

import redis
from celery import Celery
from celery.signals import worker_process_init, worker_ready

from pipelines.celery_app import make_celery
from pipelines.context_store import ContextStore
from pipelines.dispatch import Dispatcher
from pipelines.events import EventLog
from pipelines.queues import WorkerKind
from pipelines.settings import Settings, get_settings
from pipelines.stages.context import StageContext
from pipelines.storage import Storage
from pipelines.stt_routing import SttRouter
from pipelines.time_limits import TimeLimits
from workers import backends, liveness

# The task modules of each kind of worker: a process imports only its own (an LLM worker never
# loads Piper, an STT worker never llama.cpp), and each image installs only its kind's runtimes.
KIND_MODULES: dict[WorkerKind, list[str]] = {
    WorkerKind.stt: ["workers.tasks.stt", "workers.tasks.oneshot_stt", "workers.tasks.listen"],
    WorkerKind.llm: ["workers.tasks.llm"],
    WorkerKind.tts: ["workers.tasks.tts", "workers.tasks.speech_stream"],
    WorkerKind.animation: ["workers.tasks.animation"],
    WorkerKind.notify: ["workers.tasks.notify", "workers.tasks.maintenance"],
    WorkerKind.memory: ["workers.tasks.memory"],
    WorkerKind.chat: ["workers.tasks.chat"],
}


def task_modules(kind: str) -> list[str]:
    """The modules a worker of ``kind`` imports; ``all`` serves every queue."""
    if kind == "all":
        return [module for modules in KIND_MODULES.values() for module in modules]
    return KIND_MODULES[WorkerKind(kind)]


def settings() -> Settings:
    return get_settings()


app: Celery = make_celery(get_settings(), include=task_modules(get_settings().worker_kind))
liveness.install(app, get_settings().worker_heartbeat_file)
if get_settings().worker_kind == "chat":  # its connectors live in the worker's main process
    from workers import chat_host

    chat_host.install(app)


@lru_cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings().redis_url, socket_timeout=10, health_check_interval=30)


@lru_cache
def storage() -> Storage:
    store = Storage(settings())
    store.ensure_indexes()
    return store


@lru_cache
def stage_context() -> StageContext:
    config = settings()
    return StageContext(
        storage=storage(),
        dispatcher=Dispatcher(
            app, SttRouter(redis_client(), default_mode=config.stt_route), TimeLimits(config)
        ),
        context=ContextStore(redis_client(), max_turns=config.context_max_turns, ttl_s=config.context_ttl_s),
        settings=config,
        events=EventLog(redis_client(), ttl_s=config.events_ttl_s),
    )


@worker_process_init.connect
def _fresh_connections_after_fork(**_: object) -> None:
    """MongoClient and loaded models must not be shared across fork: start each child clean."""
    for cached in (redis_client, storage, stage_context):
        cached.cache_clear()
    backends.reset()
    gc.freeze()


@worker_ready.connect
def _freeze_what_lives_forever(**_: object) -> None:
    """Imported modules and the app live as long as the process: out of the collector's sight, a
    full collection no longer walks them (the same fix as the API's, api/main.py). A prefork
    child freezes its own at start (above); this covers the thread pools' single process."""
    gc.freeze()
