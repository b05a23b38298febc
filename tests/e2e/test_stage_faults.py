"""A worker SIGKILLed while it holds each stage's task, and a poison message: every job ends
exactly once — no duplicated segment, audio file, context turn or completion event.

To strike deterministically while a stage's message is in a worker's hands, the worker's pool
process is frozen (SIGSTOP) before the job is sent; once the broker shows the message delivered
and unacknowledged, the whole worker is SIGKILLed and a fresh one started. The message comes back
after the visibility timeout, as it would after a crash mid-task. For the LLM the kill lands while
the reply is really being written (the job already has segments), which also exercises attempts.
"""

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pymongo import MongoClient

from pipelines.inflight import UNACKED_KEY, task_and_args
from pipelines.queues import TaskName
from tests.conftest import TEST_ENV
from tests.e2e.conftest import VISIBILITY_TIMEOUT_S, wait_for_job
from tests.fakes.crashing_worker import CRASH_MARK
from tools.spoken import spoken_wav
from tools.stack import Stack

pytestmark = pytest.mark.e2e

RECOVERY_S = VISIBILITY_TIMEOUT_S + 150  # the message comes back, then the rest of the turn


def database(stack: Stack) -> Any:
    return MongoClient(stack.mongo_url)[TEST_ENV["VTUBER_MONGO_DB"]]


def live_worker(stack: Stack, pool: str) -> str:
    return stack.running_workers(pool)[0]


def pool_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def unacked_tasks(client: redis.Redis) -> list[tuple[str, list[Any]]]:
    found = []
    for entry in client.hvals(UNACKED_KEY):
        parsed = task_and_args(json.loads(entry)[0])
        if parsed is not None:
            found.append(parsed)
    return found


def wait_until_held(client: redis.Redis, task: str, job_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not any(name == task and args[0] == job_id for name, args in unacked_tasks(client)):
        assert time.monotonic() < deadline, f"{task} for {job_id} was never delivered"
        time.sleep(0.05)


def assert_exactly_once(stack: Stack, api: httpx.Client, job: dict[str, Any]) -> None:
    assert job["status"] == "completed", job["error"]
    db = database(stack)
    job_id, total = job["id"], job["segments_total"]
    attempt = db.jobs.find_one({"_id": job_id})["llm_attempt"]
    segments = list(db.segments.find({"job_id": job_id}))
    assert sorted(s["index"] for s in segments) == list(range(total))  # one per index
    assert {s["attempt"] for s in segments} == {attempt}  # nothing left of a dropped attempt
    expected = sorted(f"tts/{job_id}/{attempt}/{i}.wav" for i in range(total))  # the ogg: on request
    stored_names = sorted(f["filename"] for f in db["audio.files"].find({"metadata.job_id": job_id}))
    assert stored_names == expected  # each file once, none of an older attempt
    client = redis.Redis.from_url(stack.redis_url)
    turns = [json.loads(t)["job_id"] for t in client.lrange(f"session:{job['session_id']}:turns", 0, -1)]
    assert turns.count(job_id) == 1
    events: Any = client.xrange(f"events:job:{job_id}")
    assert [fields[b"type"] for _, fields in events].count(b"job.completed") == 1
    assert db.jobs.find_one({"_id": job_id})["followups"] == []


def submit(api: httpx.Client, text: str | None = None, audio: bytes | None = None) -> str:
    session = api.post("/v1/sessions", json={}).json()["id"]
    if audio is not None:
        accepted = api.post(
            f"/v1/sessions/{session}/utterances", files={"audio": ("hi.wav", audio, "audio/wav")}
        )
    else:
        accepted = api.post(f"/v1/sessions/{session}/utterances", json={"text": text})
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["job_id"])


def kill_and_restart(stack: Stack, pool: str, worker: str, label: str) -> None:
    stack.kill(worker, signal.SIGKILL)
    stack.start_worker(pool, suffix=f"-after-{label}")
    stack.wait_for_workers()


@pytest.mark.parametrize(
    ("pool", "task"),
    [
        ("stt-cpu", TaskName.transcribe_utterance),
        ("tts", TaskName.synthesize_segment),
        ("animation", TaskName.animate_segment),
    ],
)
def test_a_worker_killed_holding_its_task_loses_and_repeats_nothing(
    api: httpx.Client, stack: Stack, pool: str, task: str
) -> None:
    worker = live_worker(stack, pool)
    children = pool_children(stack.processes[worker].pid)
    assert children, f"{worker} has no pool process"
    for child in children:
        os.kill(child, signal.SIGSTOP)  # it will take the next message and sit on it
    try:
        if pool == "stt-cpu":
            job_id = submit(api, audio=spoken_wav("Hello Hana, how are you today?"))
        else:
            job_id = submit(api, text="Say hello to the chat in two short sentences.")
        wait_until_held(redis.Redis.from_url(stack.redis_url), task, job_id)
    finally:
        kill_and_restart(stack, pool, worker, label="hold")
    assert_exactly_once(stack, api, wait_for_job(api, job_id, timeout=RECOVERY_S))


def test_an_llm_worker_killed_while_writing_the_reply(api: httpx.Client, stack: Stack) -> None:
    db = database(stack)
    for round_number in range(4):  # a short reply can finish before the kill lands: try again
        job_id = submit(api, text="Tell me a long story about a brave little dragon, in four sentences.")
        deadline = time.monotonic() + 120
        while db.segments.count_documents({"job_id": job_id}) == 0:  # the reply is being written
            assert time.monotonic() < deadline, "the reply never started"
            time.sleep(0.02)
        worker = live_worker(stack, "llm")
        stack.kill(worker, signal.SIGKILL)
        killed_mid_reply = not (db.jobs.find_one({"_id": job_id})["reply"] or {}).get("done")
        stack.start_worker("llm", suffix=f"-after-kill-{round_number}")
        stack.wait_for_workers()
        if killed_mid_reply:
            break
        wait_for_job(api, job_id, timeout=RECOVERY_S)
    assert killed_mid_reply, "the reply was always finished before the kill"
    job = wait_for_job(api, job_id, timeout=RECOVERY_S)
    assert db.jobs.find_one({"_id": job_id})["llm_attempt"] >= 2  # written again from the start
    assert_exactly_once(stack, api, job)


def test_a_line_that_kills_every_worker_is_dead_lettered(api: httpx.Client, stack: Stack) -> None:
    """The poison line's message is delivered max_deliveries times (3), then given up on."""
    llm = live_worker(stack, "llm")
    stack.stop(llm)
    crashing = Stack(
        run_dir=stack.run_dir,
        env=stack.env,
        redis_port=stack.redis_port,
        mongo_port=stack.mongo_port,
        api_port=stack.api_port,
        celery_app="tests.fakes.crashing_worker:app",
    )
    try:
        crashing.start_worker("llm", suffix="-crashing")
        crashing.wait_for_workers()
        poison = submit(api, text=f"hey {CRASH_MARK}")
        job = wait_for_job(api, poison, timeout=180)
        assert job["status"] == "failed" and job["error"]["code"] == "worker_crashed", job
        letter = database(stack).dead_letters.find_one({"task": TaskName.reply, "args": [poison]})
        assert letter is not None and letter["deliveries"] == 4, letter
        # The worker itself lives on: the next viewer's line is answered by the same worker.
        assert crashing.processes["worker-llm-crashing"].poll() is None
        fine = wait_for_job(api, submit(api, text="hello"), timeout=120)
        assert fine["status"] == "completed", fine["error"]
    finally:
        crashing.stop_all()
        stack.start_worker("llm", suffix="-after-poison")
        stack.wait_for_workers()


def test_a_stage_past_its_time_limit_fails_with_stage_timeout(api: httpx.Client, stack: Stack) -> None:
    """Limits travel with each message, set by its sender: here the STT worker sends the reply task
    with a 1 s limit to an LLM worker allowed a long reply, so the soft limit strikes mid-reply."""
    replaced = {
        "stt-cpu": {"VTUBER_LLM_TIME_LIMIT_S": "1"},
        "llm": {"VTUBER_LLM_MAX_TOKENS": "400", "VTUBER_LLM_MAX_SEGMENTS": "0"},
    }
    for pool, env in replaced.items():
        stack.replace_workers(pool, suffix="-time-limit", extra_env=env)
    try:
        job_id = submit(api, audio=spoken_wav("Tell me a very long story about a brave little dragon."))
        job = wait_for_job(api, job_id, timeout=180)
    finally:
        for pool in replaced:
            stack.replace_workers(pool, suffix="-after-time-limit")
    assert job["status"] == "failed", job
    assert job["error"]["code"] == "stage_timeout" and job["error"]["stage"] == "llm", job["error"]
