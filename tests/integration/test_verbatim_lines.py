"""Verbatim lines on real MongoDB and Redis: when their tts tasks are sent, and in which order.

The dispatcher records sends (the stages that would consume them have their own tests; the e2e
suite runs the whole path). What is checked here is the ordering rule of pipelines/verbatim.py: a
line waits while an earlier turn of its session has no final reply, and is released by the llm
stage, by a turn's end, or by the sweep.
"""

from datetime import timedelta
from typing import Any

import pytest

from pipelines import jobs
from pipelines.followups import run_job_followups
from pipelines.inflight import InFlight
from pipelines.interrupts import interrupt_job
from pipelines.personas import get_persona
from pipelines.recovery import recover_stalled
from pipelines.stages.context import StageContext
from pipelines.stages.llm import generate_reply
from pipelines.verbatim import ANNOUNCING, LINE_ATTEMPT, submit_line
from schemas.events import EventType, JobEvent
from schemas.jobs import JobKind
from tests.integration.test_llm_stage import ScriptedChat

SESSION = "s-lines"  # its own: Redis outlives each test's database


@pytest.fixture
def context(stage_context: StageContext) -> StageContext:
    stage_context.settings = stage_context.settings.model_copy(update={"llm_first_audio_wait_s": 0})
    return stage_context


def line(context: StageContext, text: str, *, session_id: str | None = SESSION) -> dict[str, Any]:
    persona = get_persona("hana")
    return submit_line(
        context.storage,
        context.events,
        context.dispatcher,
        context.settings,
        kind=JobKind.speak if session_id else JobKind.animation,
        session_id=session_id,
        owner="k",
        persona=persona,
        persona_version=persona.version,
        text=text,
    )


def chat_turn(context: StageContext) -> str:
    job = jobs.create_job(
        context.storage, session_id=SESSION, kind="text", persona="hana", persona_version="1", input_text="hi"
    )
    return str(job["_id"])


def sent_jobs(context: StageContext) -> list[str]:
    """The job of every synthesize send, in order."""
    return [args[0] for args in context.dispatcher.calls("synthesize")]  # type: ignore[attr-defined]


def job(context: StageContext, job_id: str) -> dict[str, Any]:
    found = jobs.get_job(context.storage, job_id)
    assert found is not None
    return found


def events_of(context: StageContext, job_id: str) -> list[JobEvent]:
    entries: Any = context.events.client.xrange(f"events:job:{job_id}")
    return [JobEvent.model_validate_json(fields[b"data"]) for _, fields in entries]


def test_a_line_in_an_idle_session_goes_to_tts_at_once_with_its_reply_final(context: StageContext) -> None:
    submitted = line(context, "[happy] Thanks for the sub! [wave] See you tomorrow.")
    assert sent_jobs(context) == [submitted["_id"]] * 2
    assert [args[1:3] for args in context.dispatcher.calls("synthesize")] == [(1, 0), (1, 1)]  # type: ignore[attr-defined]
    stored = job(context, submitted["_id"])
    assert (stored["status"], stored["stage"], stored["held"]) == ("running", "tts", False)
    assert stored["reply"]["done"] and stored["segments_total"] == 2
    assert stored["llm_attempt"] == LINE_ATTEMPT and "llm" not in stored["timings"]
    events = events_of(context, submitted["_id"])
    assert [e.type for e in events] == [
        EventType.job_queued,
        EventType.segment_queued,
        EventType.segment_queued,
    ]
    assert [(e.segment.text, e.segment.motions) for e in events[1:] if e.segment] == [
        ("Thanks for the sub!", []),
        ("See you tomorrow.", ["wave"]),
    ]
    assert not context.dispatcher.calls("reply")  # type: ignore[attr-defined]


def test_a_line_waits_for_the_reply_before_it_and_follows_its_segments(context: StageContext) -> None:
    turn = chat_turn(context)
    first = line(context, "First line.")
    second = line(context, "Second line.")
    assert sent_jobs(context) == []  # the turn's reply is not written yet: both lines wait
    assert job(context, first["_id"])["held"] is True and job(context, first["_id"])["status"] == "queued"
    generate_reply(context, ScriptedChat("[happy] Hello there. How are you?"), turn)
    # The reply's segments were sent while it was written, then the lines in their order.
    assert sent_jobs(context) == [turn, turn, first["_id"], second["_id"]]


def test_a_turn_that_ends_without_a_reply_releases_the_lines_behind_it(context: StageContext) -> None:
    turn = chat_turn(context)
    waiting = line(context, "Still here.")
    assert sent_jobs(context) == []
    interrupted = interrupt_job(context.storage, context.events.client, job(context, turn), by="cancel")
    assert interrupted is not None
    run_job_followups(context, interrupted)
    assert sent_jobs(context) == [waiting["_id"]]


def test_a_later_turn_does_not_hold_back_an_earlier_line(context: StageContext) -> None:
    earlier = line(context, "Before the question.")
    chat_turn(context)
    assert sent_jobs(context) == [earlier["_id"]]


def test_a_session_less_line_never_waits_for_anything(context: StageContext) -> None:
    chat_turn(context)
    alone = line(context, "A pre-baked line.", session_id=None)
    assert sent_jobs(context) == [alone["_id"]]
    assert not context.events.client.exists("events:session:None")


def test_the_sweep_releases_a_line_whose_submit_died_while_announcing(context: StageContext) -> None:
    stalled = line(context, "Lost in the middle.")
    context.dispatcher.clear()  # type: ignore[attr-defined]
    # As if the API died after storing the job, before it announced and released it.
    context.storage.jobs.update_one(
        {"_id": stalled["_id"]}, {"$set": {"held": ANNOUNCING, "status": "queued", "stage": None}}
    )
    later = jobs.utcnow() + timedelta(seconds=context.settings.recovery_idle_s + 1)
    assert recover_stalled(context, InFlight(), now=later) == {"released": 1}
    assert sent_jobs(context) == [stalled["_id"]] * 1
    assert job(context, stalled["_id"])["status"] == "running"
