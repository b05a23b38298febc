"""Faults: a redelivered stage duplicates nothing; a worker SIGKILLed mid-task loses no job."""

import signal
import time

import httpx
import pytest
from pymongo import MongoClient

from pipelines.celery_app import make_celery
from pipelines.queues import TaskName
from pipelines.settings import Settings
from tests.conftest import TEST_ENV
from tests.e2e.conftest import VISIBILITY_TIMEOUT_S, wait_for_job, wait_for_stage
from tools.stack import Stack

pytestmark = pytest.mark.e2e


def database(stack: Stack):
    return MongoClient(stack.mongo_url)[TEST_ENV["VTUBER_MONGO_DB"]]


def test_redelivered_stages_do_not_duplicate_output(api: httpx.Client, session_id: str, stack: Stack) -> None:
    job = wait_for_job(
        api,
        api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Tell me a fun fact."}).json()[
            "job_id"
        ],
    )
    assert job["status"] == "completed", job["error"]
    db = database(stack)
    job_id, attempt = job["id"], db.jobs.find_one({"_id": job["id"]})["llm_attempt"]
    # The last segment's ogg copy is written after its audio was announced (off the first audio's
    # path), so it may still be on its way when the job completes: wait for wav + ogg of each.
    deadline = time.monotonic() + 20
    while db["audio.files"].count_documents({"metadata.job_id": job_id}) < 2 * job["segments_total"]:
        assert time.monotonic() < deadline, "the ogg copies never appeared"
        time.sleep(0.05)
    before = {
        "segments": db.segments.count_documents({"job_id": job_id}),
        "audio": db["audio.files"].count_documents({"metadata.job_id": job_id}),
    }
    context_key = f"session:{session_id}:turns"
    import redis

    turns_before = redis.Redis.from_url(stack.redis_url).llen(context_key)

    # Deliver every stage of the finished job again, as a broker would after a lost ack.
    celery = make_celery(Settings(redis_url=stack.redis_url, mongo_url=stack.mongo_url))
    celery.send_task(TaskName.reply, args=[job_id])
    for index in range(job["segments_total"]):
        celery.send_task(TaskName.synthesize_segment, args=[job_id, attempt, index])
        celery.send_task(TaskName.animate_segment, args=[job_id, attempt, index])
    time.sleep(5)  # let them all run; each must notice its work is already stored

    after = {
        "segments": db.segments.count_documents({"job_id": job_id}),
        "audio": db["audio.files"].count_documents({"metadata.job_id": job_id}),
    }
    assert after == before
    assert redis.Redis.from_url(stack.redis_url).llen(context_key) == turns_before
    again = api.get(f"/v1/jobs/{job_id}").json()
    assert again["status"] == "completed" and again["reply"] == job["reply"]
    assert [s["audio_id"] for s in again["segments"]] == [s["audio_id"] for s in job["segments"]]


def test_llm_worker_killed_mid_task_job_still_completes(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    db = database(stack)
    for round_number in range(4):  # a kill can land just after a short reply finished: try again
        job_id = api.post(
            f"/v1/sessions/{session_id}/utterances",
            json={"text": "Tell me a long story about a brave little dragon, in four sentences."},
        ).json()["job_id"]
        wait_for_stage(api, job_id, "llm")
        worker = next(
            n for n, p in stack.processes.items() if n.startswith("worker-llm") and p.poll() is None
        )
        stack.kill(worker, signal.SIGKILL)  # the whole worker, pool children included
        killed_mid_reply = not (db.jobs.find_one({"_id": job_id})["reply"] or {}).get("done")
        stack.start_worker("llm", suffix=f"-restarted-{round_number}")
        if killed_mid_reply:
            break
        wait_for_job(api, job_id)
    assert killed_mid_reply, "the LLM stage always finished before the kill"
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "running"

    job = wait_for_job(api, job_id, timeout=VISIBILITY_TIMEOUT_S + 120)
    assert job["status"] == "completed", job["error"]
    assert [s["index"] for s in job["segments"]] == list(range(job["segments_total"]))
    assert db.jobs.find_one({"_id": job_id})["llm_attempt"] >= 2  # the reply was generated again
    # Segments of the interrupted attempt were dropped; only the final attempt's remain.
    assert db.segments.count_documents({"job_id": job_id}) == job["segments_total"]


def test_queued_job_survives_a_redis_restart(api: httpx.Client, session_id: str, stack: Stack) -> None:
    for name, process in list(stack.processes.items()):
        if name.startswith("worker-llm") and process.poll() is None:
            stack.stop(name)  # nobody consumes llm: the job waits in Redis
    job_id = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Still there?"}).json()["job_id"]
    time.sleep(1.5)  # past the append-only file's one-second fsync
    stack.stop("redis")
    stack.start_redis()  # same port and data directory
    stack.start_worker("llm", suffix="-after-redis")
    job = wait_for_job(api, job_id, timeout=180)
    assert job["status"] == "completed", job["error"]


def test_job_survives_a_mongodb_restart_mid_pipeline(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    job_id = api.post(
        f"/v1/sessions/{session_id}/utterances", json={"text": "What did you eat today?"}
    ).json()["job_id"]
    wait_for_stage(api, job_id, "llm")
    stack.stop("mongo")
    try:
        unavailable = api.get(f"/v1/sessions/{session_id}")
        assert unavailable.status_code == 503
        assert unavailable.json()["error"]["code"] == "dependency_unavailable"
        # A poll answers from the view cached at the job's last event, or says 503: never a 500.
        assert api.get(f"/v1/jobs/{job_id}").status_code in (200, 503)
        time.sleep(3)  # workers hit the outage and back off
    finally:
        stack.start_mongo()  # same port and data directory
    job = wait_for_job(api, job_id, timeout=240)
    assert job["status"] == "completed", job["error"]
