"""Erasing conversation data: everything of some sessions, everything about a viewer, or turns
past their retention period (pipelines/retention.py).

A turn's data lives in several places, each erased here: the job and its segments, feedback, the
viewer's recording and every voice file in GridFS (``tts/<job>/...`` and its browser copy, found by
``metadata.job_id``), the job's and the session's event logs and the session's short-term context in
Redis. Data kept by other parts (the long-term memory store) is erased by the erasers they
register: ``register_eraser(name, eraser)`` from a module listed in ``ERASER_MODULES``, which is
imported before each erasure so the API and the sweeping worker both know every eraser.

A turn still running when its data is erased is told to stop (its cancel flag, which expires on
its own): the stages find the job gone and write nothing more.
"""

import importlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from bson import ObjectId

from pipelines.context_store import guard_key, turns_key
from pipelines.events import job_stream, open_turns, session_stream
from pipelines.interrupts import CANCEL_FLAG_TTL_S, cancel_flag
from pipelines.jobs import ACTIVE
from pipelines.settings import Settings
from pipelines.storage import AUDIO_BUCKET, Storage, parse_object_id


@dataclass(frozen=True)
class ErasureContext:
    storage: Storage
    redis: redis.Redis
    settings: Settings


@dataclass(frozen=True)
class Erasure:
    """What is being erased; an eraser removes whatever of its own data matches any part of it."""

    session_ids: tuple[str, ...] = ()  # everything of these sessions (DELETE /v1/sessions/{id})
    viewer_id: str | None = None  # everything about this viewer (DELETE /v1/viewers/{id}) ...
    owner: str | None = None  # ... under this owner's key (another key's viewer of that id is another person)
    job_ids: tuple[str, ...] = ()  # the turns erased (of the sessions, the viewer, or expired)
    memories_before: datetime | None = None  # retention: memories created before this time


# An eraser returns how many of its items it removed (reported back, e.g. {"memories": 3}).
Eraser = Callable[[ErasureContext, Erasure], int]
_ERASERS: dict[str, Eraser] = {}
# Modules that call register_eraser when imported (the long-term memory store adds its own here).
ERASER_MODULES: list[str] = ["pipelines.memory_erasure", "pipelines.chat_erasure"]


def register_eraser(name: str, eraser: Eraser) -> None:
    _ERASERS[name] = eraser


def registered_erasers() -> dict[str, Eraser]:
    for module in ERASER_MODULES:
        importlib.import_module(module)
    return dict(_ERASERS)


JOB_FIELDS = {"_id": 1, "session_id": 1, "status": 1, "input_audio_id": 1}


def erase_sessions(ctx: ErasureContext, session_ids: list[str]) -> dict[str, int]:
    """Everything of these sessions: turns, feedback, audio, event logs, context, memories."""
    jobs = list(ctx.storage.jobs.find({"session_id": {"$in": session_ids}}, JOB_FIELDS))
    done = erase_turns(ctx, jobs, session_files=session_ids)
    with ctx.redis.pipeline(transaction=False) as pipe:
        for session_id in session_ids:
            pipe.delete(session_stream(session_id), open_turns(session_id), turns_key(session_id))
        pipe.execute()
    done["sessions"] = ctx.storage.sessions.delete_many({"_id": {"$in": session_ids}}).deleted_count
    done.update(run_erasers(ctx, Erasure(session_ids=tuple(session_ids), job_ids=job_ids(jobs))))
    return dict(done)


def erase_viewer(ctx: ErasureContext, viewer_id: str, owner: str) -> dict[str, int]:
    """Everything about one owner's viewer: their turns (and what they are part of) wherever they
    spoke. Viewer ids are each owner's own names: another owner's viewer of the same id stays.

    Sessions they spoke in stay for the other viewers, without the viewer's turns: those are
    taken out of each session's event log and short-term context one by one.
    """
    jobs = list(ctx.storage.jobs.find({"viewer_id": viewer_id, "owner": owner}, JOB_FIELDS))
    done = erase_turns(ctx, jobs)
    erased = set(job_ids(jobs))
    for session_id in {job["session_id"] for job in jobs if job.get("session_id")}:
        done["context_turns"] += remove_from_context(ctx.redis, session_id, erased)
        done["session_events"] += remove_from_session_log(ctx.redis, session_id, erased)
        ctx.redis.hdel(open_turns(session_id), *erased)
    done.update(run_erasers(ctx, Erasure(viewer_id=viewer_id, owner=owner, job_ids=tuple(sorted(erased)))))
    return dict(done)


def erase_turns(
    ctx: ErasureContext, jobs: list[dict[str, Any]], *, session_files: Iterable[str] = ()
) -> Counter[str]:
    """The turns and what hangs off them in MongoDB and GridFS, and their own Redis keys.

    ``session_files``: sessions whose every stored file goes too (an upload whose turn was never
    created, e.g. refused after it was stored, carries only its session id)."""
    done: Counter[str] = Counter()
    ids = list(job_ids(jobs))
    running = [job["_id"] for job in jobs if job.get("status") in ACTIVE]
    with ctx.redis.pipeline(transaction=False) as pipe:
        for job_id in running:  # stop them first: the LLM checks this flag between tokens
            pipe.set(cancel_flag(job_id), b"1", ex=CANCEL_FLAG_TTL_S)
        pipe.execute()
    uploads = [oid for job in jobs if (oid := parse_object_id(job.get("input_audio_id") or ""))]
    audio_query: list[dict[str, Any]] = []
    if ids:
        audio_query.append({"metadata.job_id": {"$in": ids}})
    if uploads:
        audio_query.append({"_id": {"$in": uploads}})
    if sessions := list(session_files):
        audio_query.append({"metadata.session_id": {"$in": sessions}})
    if audio_query:
        done["audio_files"] = delete_files(ctx.storage, {"$or": audio_query})
    if ids:
        done["segments"] = ctx.storage.segments.delete_many({"job_id": {"$in": ids}}).deleted_count
        done["feedback"] = ctx.storage.feedback.delete_many({"job_id": {"$in": ids}}).deleted_count
        done["turns"] = ctx.storage.jobs.delete_many({"_id": {"$in": ids}}).deleted_count
        ctx.storage.dead_letters.delete_many({"args": {"$in": ids}})  # messages naming these turns
        with ctx.redis.pipeline(transaction=False) as pipe:
            for job in jobs:
                pipe.delete(job_stream(job["_id"]))
                if job.get("session_id"):
                    pipe.delete(guard_key(job["session_id"], job["_id"]))
            pipe.execute()
    return done


def delete_files(storage: Storage, query: dict[str, Any]) -> int:
    """GridFS files matching ``query`` with their chunks (chunks first: no file is left pointing
    at missing chunks, and a repeated run finds whatever is left)."""
    files = storage.db[f"{AUDIO_BUCKET}.files"]
    ids: list[ObjectId] = [doc["_id"] for doc in files.find(query, {"_id": 1})]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        storage.db[f"{AUDIO_BUCKET}.chunks"].delete_many({"files_id": {"$in": chunk}})
        files.delete_many({"_id": {"$in": chunk}})
    return len(ids)


def run_erasers(ctx: ErasureContext, erasure: Erasure) -> dict[str, int]:
    return {name: eraser(ctx, erasure) for name, eraser in registered_erasers().items()}


def job_ids(jobs: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(job["_id"] for job in jobs)


def remove_from_context(client: redis.Redis, session_id: str, job_ids: set[str]) -> int:
    removed = 0
    for raw in client.lrange(turns_key(session_id), 0, -1):
        if json.loads(raw).get("job_id") in job_ids:
            removed += int(client.lrem(turns_key(session_id), 0, raw))  # type: ignore[arg-type]
    return removed


def remove_from_session_log(client: redis.Redis, session_id: str, job_ids: set[str]) -> int:
    entries: Any = client.xrange(session_stream(session_id))
    doomed = [
        entry_id for entry_id, fields in entries if json.loads(fields[b"data"]).get("job_id") in job_ids
    ]
    if doomed:
        client.xdel(session_stream(session_id), *doomed)
    return len(doomed)
