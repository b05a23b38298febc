"""What one MongoDB operation of a live turn costs on the embedded MongoDB-protocol server.

    python -m bench.bench_mongo_ops [--writes 10000]

A turn makes about 17 of them (docs/turn_cost.md), each waited for in turn, so their cost is most
of a turn's orchestration on this machine. Measured one client, one at a time, on the project's
own indexes (pipelines/storage.py):

1. the operations of a turn: reading a job, a job update, a segment's upsert and update, storing
   a segment's audio (the GridFS upload without pymongo's index check, as Storage does it);
2. job updates with retryable writes (pymongo's default) as the server's record of them grows to
   ``writes``, against the same updates without them (what tools/stack.py asks the embedded
   server for).
"""

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from pymongo import MongoClient
from pymongo.collection import Collection

from pipelines.settings import Settings
from pipelines.storage import Storage
from tools.stack import Stack

JOB = {
    "status": "running",
    "session_id": "s",
    "owner": "k",
    "persona": "hana",
    "created_at": 0,
    "updated_at": 0,
    "timings": {stage: {"started_at": 0, "seconds": 0.1} for stage in ("stt", "llm", "tts", "animation")},
    "reply": {"text": "A reply of a few sentences, about as long as a live one. " * 4, "done": False},
}


def timed(operation: Callable[[int], Any], count: int) -> dict[str, float]:
    """p50 and p90 in milliseconds of ``operation(i)`` for i in range(count)."""
    samples = []
    for i in range(count):
        started = time.perf_counter()
        operation(i)
        samples.append((time.perf_counter() - started) * 1000)
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 2), "p90_ms": round(ordered[int(0.9 * count)], 2)}


def turn_operations(storage: Storage, count: int) -> dict[str, dict[str, float]]:
    storage.jobs.insert_many([{"_id": f"job{i}", **JOB} for i in range(count)])
    wav = bytes(32_000)  # one second of 16 kHz 16-bit audio
    return {
        "find a job": timed(lambda i: storage.jobs.find_one({"_id": f"job{i}"}), count),
        "update a job": timed(
            lambda i: storage.jobs.update_one(
                {"_id": f"job{i}", "status": "running"}, {"$set": {"stage": "llm", "updated_at": i}}
            ),
            count,
        ),
        "upsert a segment": timed(
            lambda i: storage.segments.update_one(
                {"_id": f"job{i}:1:0"},
                {"$set": {"text": "Hi!"}, "$setOnInsert": {"job_id": f"job{i}", "attempt": 1, "index": 0}},
                upsert=True,
            ),
            count,
        ),
        "update a segment": timed(
            lambda i: storage.segments.update_one({"_id": f"job{i}:1:0"}, {"$set": {"ready": True}}), count
        ),
        "store a segment's audio": timed(
            lambda i: storage.put_audio(wav, filename=f"{i}.wav", content_type="audio/wav", metadata={}),
            count,
        ),
    }


def retryable_writes(url: str, writes: int) -> dict[str, list[dict[str, float]]]:
    """Updates in rounds of a thousand, with and without retryable writes."""
    result: dict[str, list[dict[str, float]]] = {}
    for retry in (True, False):
        client: MongoClient[dict[str, Any]] = MongoClient(url, retryWrites=retry)  # over the URL's
        update = job_updater(client["bench_mongo_ops"][f"retry_{retry}"])
        result[f"retryWrites={str(retry).lower()}"] = [timed(update, 1000) for _ in range(writes // 1000)]
        client.close()
    return result


def job_updater(jobs: Collection[dict[str, Any]]) -> Callable[[int], Any]:
    jobs.insert_one({"_id": "job", **JOB})
    return lambda i: jobs.update_one({"_id": "job"}, {"$set": {"updated_at": i}})


def main(writes: int = 10_000, count: int = 500) -> None:
    stack = Stack(run_dir=Path(tempfile.mkdtemp(prefix="vtuber-bench-mongo-")), pools=[])
    stack.start_mongo()
    try:
        settings = Settings(mongo_url=stack.mongo_url, mongo_db="bench_mongo_ops")
        storage = Storage(settings)
        storage.ensure_indexes()
        print(f"One operation at a time on the embedded server ({stack.mongo_url}):")
        for name, cost in turn_operations(storage, count).items():
            print(f"  {name:24s} p50 {cost['p50_ms']:6.2f} ms   p90 {cost['p90_ms']:6.2f} ms")
        storage.close()
        print("A job update, by thousands of writes made so far:")
        for mode, rounds in retryable_writes(stack.mongo_url, writes).items():
            cells = "  ".join(f"{r['p50_ms']:.2f}/{r['p90_ms']:.2f}" for r in rounds)
            print(f"  {mode:18s} p50/p90 ms: {cells}")
    finally:
        stack.stop_all()


if __name__ == "__main__":
    typer.run(main)
