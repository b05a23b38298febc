"""Faults: a redelivered stage duplicates nothing; a worker SIGKILLed mid-task loses no job; Redis
and MongoDB outages fail or delay turns cleanly, never lose or duplicate them.

Every wait has a deadline; a fault test shows that the faulted work ran again (a task result, a
retry in the worker's log), never only that nothing changed after a sleep.
"""

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
from pymongo import MongoClient
from pymongo.database import Database

from pipelines.celery_app import make_celery
from pipelines.queues import Queue, TaskName
from pipelines.settings import Settings
from tests.conftest import TEST_ENV
from tests.e2e.conftest import VISIBILITY_TIMEOUT_S, wait_for_job, wait_for_stage
from tools.stack import Stack

pytestmark = pytest.mark.e2e


def database(stack: Stack) -> Database[dict[str, Any]]:
    return MongoClient(stack.mongo_url)[TEST_ENV["VTUBER_MONGO_DB"]]


def stored_job(db: Database[dict[str, Any]], job_id: str) -> dict[str, Any]:
    job = db.jobs.find_one({"_id": job_id})
    assert job is not None, f"job {job_id} is not stored"
    return job


def submit_text(api: httpx.Client, session_id: str, text: str) -> str:
    accepted = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": text})
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["job_id"])


def task_retries(stack: Stack) -> int:
    """Task retries so far, as each stage run logs them ("stage will be retried", its reason and
    error), in every worker's log (restarted workers included)."""
    return sum(
        path.read_text(errors="replace").count('"event": "stage will be retried"')
        for path in stack.run_dir.glob("worker-*.log")
    )


def test_redelivered_stages_do_not_duplicate_output(api: httpx.Client, session_id: str, stack: Stack) -> None:
    job = wait_for_job(api, submit_text(api, session_id, "Tell me a fun fact."))
    assert job["status"] == "completed", job["error"]
    db = database(stack)
    job_id, attempt = job["id"], stored_job(db, job["id"])["llm_attempt"]
    # Each segment's wav is stored before its audio is announced (the ogg copy only on request).
    assert db["audio.files"].count_documents({"metadata.job_id": job_id}) == job["segments_total"]
    before = {
        "segments": db.segments.count_documents({"job_id": job_id}),
        "audio": db["audio.files"].count_documents({"metadata.job_id": job_id}),
    }
    context_key = f"session:{session_id}:turns"
    turns_before = redis.Redis.from_url(stack.redis_url).llen(context_key)

    # Deliver every stage of the finished job again, as a broker would after a lost ack, and wait
    # for each to have run: a task result is stored only once a worker has executed the task.
    celery = make_celery(Settings(redis_url=stack.redis_url, mongo_url=stack.mongo_url))
    try:
        sent = [celery.send_task(TaskName.reply, args=[job_id])]
        for index in range(job["segments_total"]):
            sent.append(celery.send_task(TaskName.synthesize_segment, args=[job_id, attempt, index]))
            sent.append(celery.send_task(TaskName.animate_segment, args=[job_id, attempt, index]))
        for result in sent:
            result.get(timeout=120)  # raises if the task raised; TimeoutError if it never ran
            assert result.successful(), (result.name, result.state)
    finally:
        celery.close()

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
        stack.kill(stack.running_workers("llm")[0], signal.SIGKILL)  # pool children included
        killed_mid_reply = not (stored_job(db, job_id)["reply"] or {}).get("done")
        stack.start_worker("llm", suffix=f"-restarted-{round_number}")
        if killed_mid_reply:
            break
        wait_for_job(api, job_id)
    assert killed_mid_reply, "the LLM stage always finished before the kill"
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "running"

    job = wait_for_job(api, job_id, timeout=VISIBILITY_TIMEOUT_S + 120)
    assert job["status"] == "completed", job["error"]
    assert [s["index"] for s in job["segments"]] == list(range(job["segments_total"]))
    assert stored_job(db, job_id)["llm_attempt"] >= 2  # the reply was generated again
    # Segments of the interrupted attempt were dropped; only the final attempt's remain.
    assert db.segments.count_documents({"job_id": job_id}) == job["segments_total"]


def test_queued_job_survives_a_redis_restart(api: httpx.Client, session_id: str, stack: Stack) -> None:
    for name in stack.running_workers("llm"):
        stack.stop(name)  # nobody consumes llm: the job waits in Redis
    broker = redis.Redis.from_url(stack.redis_url)
    waiting = broker.llen(Queue.llm.value)
    job_id = submit_text(api, session_id, "Still there?")
    deadline = time.monotonic() + 30
    while broker.llen(Queue.llm.value) <= waiting:
        assert time.monotonic() < deadline, "the job's message never reached the llm queue"
        time.sleep(0.05)
    # A stopped (SIGTERMed) Redis writes and fsyncs its append-only file before it exits.
    stack.stop("redis")
    stack.start_redis()  # same port and data directory
    stack.start_worker("llm", suffix="-after-redis")
    job = wait_for_job(api, job_id, timeout=180)
    assert job["status"] == "completed", job["error"]


def test_broker_down_fails_the_turn_and_says_503(api: httpx.Client, session_id: str, stack: Stack) -> None:
    db = database(stack)
    stack.stop("redis")
    try:
        refused = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Anyone there?"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "dependency_unavailable"
    finally:
        stack.start_redis()  # same port and data directory
        stack.wait_for_workers()  # they reconnect to the restarted broker
    # The client was told to submit again, so the turn it sent must never be answered later: it is
    # recorded as failed, not left queued for the recovery sweep to send on.
    jobs = list(db.jobs.find({"session_id": session_id}))
    assert [(j["status"], (j.get("error") or {}).get("code")) for j in jobs] == [
        ("failed", "dependency_unavailable")
    ], jobs
    job = wait_for_job(api, submit_text(api, session_id, "And now?"))
    assert job["status"] == "completed", job["error"]


MONGO_OUTAGE_S = 10
# A worker meets the outage only when its task needs MongoDB (and fails after the 5 s server
# selection timeout); if none has by MONGO_OUTAGE_S, the outage lasts until one has.
MONGO_OUTAGE_MAX_S = 60


def test_turns_in_flight_survive_a_mongodb_outage(api: httpx.Client, stack: Stack) -> None:
    sessions = [api.post("/v1/sessions", json={}).json()["id"] for _ in range(4)]
    *talking, refused_session = sessions
    job_ids = [
        submit_text(api, session, text)
        for session, text in zip(
            talking,
            ["What did you eat today?", "Tell me about your favourite game.", "What is the weather like?"],
            strict=True,
        )
    ]
    wait_for_stage(api, job_ids[0], "llm")
    polled = [api.get(f"/v1/jobs/{job_id}").json()["status"] for job_id in job_ids]
    assert not {"completed", "failed"} & set(polled), polled  # all in flight when MongoDB stops
    retries_before = task_retries(stack)
    stack.stop("mongo")
    outage_started = time.monotonic()
    try:
        # A poll answers from the view cached at the job's last event, or says 503: never a 500.
        in_flight = [api.get(f"/v1/jobs/{job_id}") for job_id in job_ids]
        assert {r.status_code for r in in_flight} <= {200, 503}, [r.text for r in in_flight]
        rounds = 0
        with ThreadPoolExecutor(max_workers=3) as pool:
            # Each refusal takes the API's server selection timeout (5 s): ask all three at once.
            while rounds == 0 or (
                time.monotonic() - outage_started < MONGO_OUTAGE_S or task_retries(stack) == retries_before
            ):
                assert time.monotonic() - outage_started < MONGO_OUTAGE_MAX_S, "no task met the outage"
                for response in pool.map(
                    lambda send: send(),
                    [
                        lambda: api.get(f"/v1/sessions/{talking[0]}"),
                        lambda: api.post("/v1/sessions", json={}),
                        lambda: api.post(f"/v1/sessions/{refused_session}/utterances", json={"text": "Hi?"}),
                    ],
                ):
                    assert response.status_code == 503, (response.request.url, response.text)
                    assert response.json()["error"]["code"] == "dependency_unavailable", response.text
                    assert response.headers.get("retry-after"), response.headers
                rounds += 1
    finally:
        outage = time.monotonic() - outage_started
        stack.start_mongo()  # same port and data directory

    jobs = [wait_for_job(api, job_id, timeout=300) for job_id in job_ids]
    assert [j["status"] for j in jobs] == ["completed"] * len(jobs), [j["error"] for j in jobs]
    retries = task_retries(stack) - retries_before
    assert retries >= 1, "no worker task met the outage and retried"
    db = database(stack)
    for job in jobs:
        assert [s["index"] for s in job["segments"]] == list(range(job["segments_total"]))
        per_index = list(
            db.segments.aggregate(
                [{"$match": {"job_id": job["id"]}}, {"$group": {"_id": "$index", "n": {"$sum": 1}}}]
            )
        )
        assert sorted((g["_id"], g["n"]) for g in per_index) == [
            (index, 1) for index in range(job["segments_total"])
        ], job["id"]
    context = redis.Redis.from_url(stack.redis_url)
    assert [context.llen(f"session:{session}:turns") for session in talking] == [1] * len(talking)
    assert db.jobs.count_documents({"session_id": refused_session}) == 0  # refused, so never run
    print(f"MongoDB down {outage:.1f} s; {retries} task retries; all {len(jobs)} turns completed")
