"""The retention sweep: stored audio, finished turns with their transcripts, and long-term memories
are deleted once older than their settings say (0 keeps them forever).

A sweep on the maintenance queue rather than TTL indexes: a GridFS file is a files document plus
chunks that a TTL index could only expire separately, and a turn's data spans several collections
and Redis (pipelines/erasure.py removes all of it together). Each pass works in bounded batches,
so a first sweep over a large backlog never holds much in memory.
"""

from collections import Counter
from datetime import datetime, timedelta

from pipelines.batches import OPEN_BATCH
from pipelines.erasure import JOB_FIELDS, Erasure, ErasureContext, delete_files, erase_turns, run_erasers
from pipelines.jobs import FINISHED, utcnow
from pipelines.storage import parse_object_id

BATCH = 500


def sweep_retention(ctx: ErasureContext, *, now: datetime | None = None) -> dict[str, int]:
    """One sweep; how many items of each kind it deleted."""
    now = now or utcnow()
    settings = ctx.settings
    done: Counter[str] = Counter()
    if settings.retention_transcripts_days:
        cutoff = now - timedelta(days=settings.retention_transcripts_days)
        done.update(expire_turns(ctx, cutoff))
        done.update(expire_batches(ctx, cutoff))
    if settings.retention_audio_days:
        cutoff = now - timedelta(days=settings.retention_audio_days)
        done["audio_files"] += delete_files(ctx.storage, {"uploadDate": {"$lt": cutoff}})
    if settings.retention_memories_days:
        cutoff = now - timedelta(days=settings.retention_memories_days)
        done.update(run_erasers(ctx, Erasure(memories_before=cutoff)))
    return {kind: count for kind, count in done.items() if count}


def expire_turns(ctx: ErasureContext, cutoff: datetime) -> Counter[str]:
    done: Counter[str] = Counter()
    query = {"created_at": {"$lt": cutoff}, "status": {"$in": FINISHED}}
    while jobs := list(ctx.storage.jobs.find(query, JOB_FIELDS).limit(BATCH)):
        done.update(erase_turns(ctx, jobs))
    return done


def expire_batches(ctx: ErasureContext, cutoff: datetime) -> Counter[str]:
    done: Counter[str] = Counter()
    storage = ctx.storage
    query = {"created_at": {"$lt": cutoff}, "status": {"$nin": OPEN_BATCH}}
    while batches := [doc["_id"] for doc in storage.batches.find(query, {"_id": 1}).limit(BATCH)]:
        files = list(storage.batch_files.find({"batch_id": {"$in": batches}}, {"audio_id": 1}))
        uploads = [oid for doc in files if (oid := parse_object_id(doc.get("audio_id") or ""))]
        if uploads:
            done["audio_files"] += delete_files(storage, {"_id": {"$in": uploads}})
        done["batch_files"] += storage.batch_files.delete_many({"batch_id": {"$in": batches}}).deleted_count
        done["batches"] += storage.batches.delete_many({"_id": {"$in": batches}}).deleted_count
    return done
