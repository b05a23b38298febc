"""The control panel's read model on real Redis and MongoDB-protocol servers: queue depths, workers
placed in their pools by the queues they consume, the STT routing, recent turns with stage timings
(the current LLM attempt's segments only) and batch progress."""

from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from pipelines.control_status import control_status, recent_batches, recent_jobs
from pipelines.settings import Settings
from pipelines.storage import Storage
from pipelines.stt_routing import SttMode, SttRouter
from pipelines.worker_census import OTHER_POOL, CachedCensus, Census, is_gpu_pool, pool_of
from schemas.jobs import JobStatus

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
CENSUS = Census(
    {
        "stt-cpu@box": ["stt.batch.cpu", "stt.live.cpu"],
        "stt-gpu@gpu1": ["stt.batch.gpu", "stt.live.gpu"],
        "llm@box": ["llm"],
        "llm-2@box": ["llm"],
        "odd@box": ["custom"],
    }
)


def test_a_worker_s_pool_and_device_follow_from_its_queues() -> None:
    assert pool_of(["llm"]) == "llm"
    assert pool_of(["stt.live.gpu"]) == "stt-gpu" and is_gpu_pool("stt-gpu")
    assert pool_of(["stt.batch.cpu", "stt.live.cpu"]) == "stt-cpu" and not is_gpu_pool("stt-cpu")
    assert pool_of(["custom"]) == OTHER_POOL and not is_gpu_pool(OTHER_POOL)
    assert CENSUS.workers_on("llm") == ["llm-2@box", "llm@box"]
    assert CENSUS.workers_in("stt-gpu") == ["stt-gpu@gpu1"]


def test_the_census_is_taken_again_only_once_it_is_old() -> None:
    now = [0.0]
    taken: list[float] = []

    def take() -> Census:
        taken.append(now[0])
        return Census({f"w{len(taken)}@h": ["llm"]})

    cache = CachedCensus(take, max_age_s=3.0, clock=lambda: now[0])
    assert cache.get().workers_on("llm") == ["w1@h"]
    now[0] = 2.9
    assert cache.get().workers_on("llm") == ["w1@h"]
    now[0] = 3.0
    assert cache.get().workers_on("llm") == ["w2@h"]
    assert taken == [0.0, 3.0]


def test_status_counts_waiting_messages_and_places_workers(settings: Settings, rclient: redis.Redis) -> None:
    router = SttRouter(rclient)
    rclient.delete("llm", "tts", "control:stt:mode")
    try:
        rclient.rpush("llm", b"m1", b"m2", b"m3")
        rclient.rpush("tts", b"m1")
        router.set_mode(SttMode.cpu)
        router.heartbeat("stt-gpu@gpu1")
        status = control_status(settings, rclient, router, CENSUS, docs_url="/docs")
        queues = {queue.name: queue for queue in status.queues}
        assert queues["llm"].depth == 3 and queues["tts"].depth == 1
        assert queues["llm"].workers == ["llm-2@box", "llm@box"]
        assert queues["stt.live.gpu"].workers == ["stt-gpu@gpu1"]
        pools = {pool.pool: pool for pool in status.pools}
        assert pools["stt-gpu"].device == "gpu" and pools["stt-gpu"].workers == ["stt-gpu@gpu1"]
        assert pools["animation"].device == "cpu" and pools["animation"].workers == []
        assert pools[OTHER_POOL].workers == ["odd@box"] and pools[OTHER_POOL].queues == ["custom"]
        assert status.stt.mode == "cpu" and status.stt.routes_to == "cpu"
        assert status.stt.gpu_workers == ["stt-gpu@gpu1"]
        router.set_mode(SttMode.auto)  # a GPU worker is alive: auto sends speech to it
        assert control_status(settings, rclient, router, CENSUS, docs_url="/docs").stt.routes_to == "gpu"
        assert status.links.flower == settings.flower_url and status.links.docs == "/docs"
        assert status.workers_checked is True
    finally:
        rclient.delete("llm", "tts", "control:stt:mode", "control:stt:gpu-worker:stt-gpu@gpu1")


def timing(start_s: float, seconds: float) -> dict[str, Any]:
    return {
        "started_at": T0 + timedelta(seconds=start_s),
        "finished_at": T0 + timedelta(seconds=start_s + seconds),
        "seconds": seconds,
    }


def add_job(storage: Storage, job_id: str, *, minute: int, status: str, **fields: Any) -> None:
    created = T0 + timedelta(minutes=minute)
    storage.jobs.insert_one(
        {
            "_id": job_id,
            "session_id": "s1",
            "kind": "text",
            "status": status,
            "persona": "hana",
            "persona_version": "1",
            "created_at": created,
            "updated_at": created + timedelta(seconds=4.25),
            **fields,
        }
    )


def test_recent_jobs_are_newest_first_with_each_stage_s_time(storage: Storage) -> None:
    add_job(
        storage,
        "done",
        minute=1,
        status="completed",
        input_text="hi",
        reply={"text": "Hello!"},
        llm_attempt=1,
        timings={"llm": timing(0, 0.8)},
    )
    for index, attempt, tts_s in [(0, 1, 0.25), (1, 1, 0.5), (0, 0, 9.0)]:  # attempt 0 was replaced
        storage.segments.insert_one(
            {
                "job_id": "done",
                "attempt": attempt,
                "index": index,
                "text": "x",
                "timings": {"tts": timing(1 + index, tts_s), "animation": timing(2, 0.01)},
            }
        )
    add_job(
        storage, "heard", minute=2, status="running", kind="audio", stage="llm", transcript={"text": "yo"}
    )
    add_job(storage, "old", minute=0, status="failed", error={"code": "llm_timeout", "message": "slow"})

    jobs = recent_jobs(storage, limit=10)
    assert [job.id for job in jobs] == ["heard", "done", "old"]
    heard, done, old = jobs
    assert heard.input_text == "yo" and heard.stage == "llm" and heard.total_s is None
    assert done.timings["llm"].seconds == 0.8
    assert done.timings["tts"].seconds == 0.75 and done.timings["animation"].seconds == 0.02
    assert done.reply_text == "Hello!" and done.total_s == 4.25
    assert old.error is not None and old.error.code == "llm_timeout" and old.timings == {}
    assert [job.id for job in recent_jobs(storage, limit=1)] == ["heard"]
    assert [job.id for job in recent_jobs(storage, limit=10, status=JobStatus.failed)] == ["old"]


def test_recent_batches_carry_their_progress(storage: Storage) -> None:
    for minute, batch_id, done in [(0, "b-old", 2), (1, "b-new", 1)]:
        storage.batches.insert_one(
            {
                "_id": batch_id,
                "status": "running",
                "options": {},
                "files_total": 3,
                "files_done": done,
                "files_failed": 1,
                "created_at": T0 + timedelta(minutes=minute),
                "updated_at": T0 + timedelta(minutes=minute),
            }
        )
    batches = recent_batches(storage, limit=5)
    assert [batch.id for batch in batches] == ["b-new", "b-old"]
    assert batches[1].progress.model_dump() == {"files_total": 3, "files_done": 2, "files_failed": 1}
