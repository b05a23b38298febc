"""The sweep against real MongoDB and Redis: each branch of pipelines/recovery.py, and the broker
snapshot it relies on read from messages a real Celery app sent."""

from datetime import timedelta
from typing import Any

import pytest
import redis

from pipelines import jobs
from pipelines.batches import create_batch, start_file
from pipelines.celery_app import make_celery
from pipelines.inflight import InFlight, snapshot
from pipelines.queues import Queue, TaskName
from pipelines.recovery import recover_stalled
from pipelines.segments import put_segment, update_segment
from pipelines.settings import Settings
from pipelines.stages.context import StageContext
from schemas.batches import BatchOptions

NOTHING_IN_FLIGHT = InFlight()


def text_job(ctx: StageContext, **fields: Any) -> dict[str, Any]:
    job = jobs.create_job(
        ctx.storage,
        session_id=jobs.new_id(),
        kind="text",
        persona="hana",
        persona_version="1",
        input_text="hi",
    )
    if fields:
        ctx.storage.jobs.update_one({"_id": job["_id"]}, {"$set": fields})
    return jobs.get_job(ctx.storage, job["_id"]) or {}


def hours_ago(hours: float) -> Any:
    return jobs.utcnow() - timedelta(hours=hours)


def sent(ctx: StageContext) -> list[tuple[str, tuple[Any, ...]]]:
    return list(ctx.dispatcher.sent)  # type: ignore[attr-defined]


def test_a_lost_job_is_sent_again_once_per_idle_period(stage_context: StageContext) -> None:
    lost = text_job(stage_context, updated_at=jobs.utcnow() - timedelta(minutes=10))
    fresh = text_job(stage_context)
    assert recover_stalled(stage_context, NOTHING_IN_FLIGHT) == {"redispatched": 1}
    assert sent(stage_context) == [("reply", (lost["_id"],))]
    assert recover_stalled(stage_context, NOTHING_IN_FLIGHT) == {}  # touched: idle again
    assert jobs.get_job(stage_context.storage, lost["_id"])["recoveries"] == 1  # type: ignore[index]
    assert fresh["_id"] not in str(sent(stage_context))


def test_a_job_whose_message_waits_behind_a_backlog_is_left_alone(stage_context: StageContext) -> None:
    queued = text_job(stage_context, updated_at=hours_ago(0.5))
    inflight = InFlight(jobs={queued["_id"]})
    assert recover_stalled(stage_context, inflight) == {"waiting": 1}
    assert sent(stage_context) == []


def test_a_job_lost_too_often_fails_with_stage_timeout(stage_context: StageContext) -> None:
    doomed = text_job(stage_context, updated_at=hours_ago(0.5), recoveries=2, status="running", stage="llm")
    assert recover_stalled(stage_context, NOTHING_IN_FLIGHT) == {"failed": 1}
    job = jobs.get_job(stage_context.storage, doomed["_id"]) or {}
    assert job["status"] == "failed" and job["error"]["code"] == "stage_timeout"
    assert job["error"]["stage"] == "llm" and job["followups"] == []  # its end was announced
    events: Any = stage_context.events.client.xrange(f"events:job:{doomed['_id']}")
    assert [fields[b"type"] for _, fields in events][-1] == b"job.failed"


def test_a_turn_past_its_deadline_fails_even_while_queued(stage_context: StageContext) -> None:
    old = text_job(stage_context, created_at=hours_ago(2), updated_at=jobs.utcnow())
    assert recover_stalled(stage_context, InFlight(jobs={old["_id"]})) == {"failed": 1}
    assert (jobs.get_job(stage_context.storage, old["_id"]) or {})["error"]["code"] == "stage_timeout"


def test_a_job_with_every_segment_done_is_completed_with_its_follow_ups(stage_context: StageContext) -> None:
    storage = stage_context.storage
    job = text_job(stage_context, status="running", callback_url="http://example.invalid/hook")
    started = jobs.begin_llm_attempt(storage, job["_id"]) or {}
    put_segment(storage, job_id=job["_id"], attempt=1, index=0, text="Hi!", emotion="happy", motions=[])
    reply = {"text": "Hi!", "emotion": "happy", "motions": [], "done": True}
    jobs.finish_reply(storage, job["_id"], started["llm_attempt"], seconds=0.1, reply=reply, total=1)
    update_segment(storage, job["_id"], 1, 0, {"ready": True})  # the completer "died" here
    storage.jobs.update_one({"_id": job["_id"]}, {"$set": {"updated_at": hours_ago(0.1)}})

    assert recover_stalled(stage_context, InFlight(jobs={job["_id"]})) == {"completed": 1}
    done = jobs.get_job(storage, job["_id"]) or {}
    assert done["status"] == "completed" and done["followups"] == []
    assert [turn.assistant for turn in stage_context.context.recent(job["session_id"])] == ["Hi!"]
    assert sent(stage_context) == [("deliver_webhook", ("job", job["_id"]))]


def test_follow_ups_left_by_a_crash_are_finished_exactly_once(stage_context: StageContext) -> None:
    storage = stage_context.storage
    job = text_job(
        stage_context,
        status="completed",
        reply={"text": "Bye!", "emotion": "neutral", "motions": [], "done": True},
        followups=list(jobs.JOB_COMPLETED_FOLLOWUPS),
        callback_url="http://example.invalid/hook",
        updated_at=hours_ago(0.1),
    )
    stage_context.context.append(job["session_id"], _turn(job["_id"]))  # done before the crash
    assert recover_stalled(stage_context, NOTHING_IN_FLIGHT) == {"followups": 1}
    assert len(stage_context.context.recent(job["session_id"])) == 1  # not appended twice
    assert sent(stage_context) == [("deliver_webhook", ("job", job["_id"]))]
    assert (jobs.get_job(storage, job["_id"]) or {})["followups"] == []
    assert recover_stalled(stage_context, NOTHING_IN_FLIGHT) == {}


def _turn(job_id: str) -> Any:
    from schemas.session import ConversationTurn

    return ConversationTurn(job_id=job_id, user="hi", assistant="Bye!", emotion="neutral", at=jobs.utcnow())


def test_batch_files_are_resent_only_when_their_lease_ran_out(stage_context: StageContext) -> None:
    storage = stage_context.storage
    batch = create_batch(
        storage,
        options=BatchOptions(),
        files=[("a.wav", "000000000000000000000001", 60.0), ("b.wav", "000000000000000000000002", 60.0)],
        callback_url=None,
    )
    claimed = start_file(storage, batch["_id"], 0, lease_s=600)
    assert claimed is not None and claimed["claims"] == 1
    assert start_file(storage, batch["_id"], 0, lease_s=600) is None  # a second delivery while it runs
    start_file(storage, batch["_id"], 1, lease_s=600)
    storage.batch_files.update_one({"_id": f"{batch['_id']}:1"}, {"$set": {"lease_until": hours_ago(0.1)}})

    assert recover_stalled(stage_context, NOTHING_IN_FLIGHT) == {"redispatched": 1}
    assert sent(stage_context) == [("transcribe_file", (batch["_id"], 1, {"audio_s": 60.0}))]
    again = start_file(storage, batch["_id"], 1, lease_s=600)
    assert again is not None and again["claims"] == 2  # its worker died: claimed anew, counted


@pytest.fixture
def celery_settings(settings: Settings) -> Settings:
    """A Redis database of its own: the test reads every queue and the unacked set whole."""
    return settings.model_copy(update={"redis_url": settings.redis_url.rsplit("/", 1)[0] + "/7"})


def test_the_snapshot_sees_waiting_and_unacked_messages(celery_settings: Settings) -> None:
    client = redis.Redis.from_url(celery_settings.redis_url)
    client.flushdb()
    app = make_celery(celery_settings)
    app.send_task(TaskName.reply, args=["job-waiting"], ignore_result=True)
    app.send_task(TaskName.synthesize_segment, args=["job-taken", 1, 0], ignore_result=True)
    app.send_task(TaskName.transcribe_file, args=["batch-1", 3], queue=Queue.stt_batch_cpu.value)
    with app.connection_for_read() as connection:
        taken = connection.SimpleQueue(Queue.tts.value, no_ack=False).get(timeout=5)  # delivered, unacked
        assert b"job-taken" in taken.body if isinstance(taken.body, bytes) else "job-taken" in taken.body
        found = snapshot(client)
        assert client.hlen("unacked") == 1
    assert found.jobs == {"job-waiting", "job-taken"}
    assert found.batch_files == {("batch-1", 3)}
