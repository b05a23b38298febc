"""Avatar commands and what finished direct-control jobs leave behind, on real MongoDB and Redis."""

from typing import Any

from pipelines import jobs
from pipelines.avatar_commands import send_command
from pipelines.followups import run_job_followups
from pipelines.job_views import load_job_views
from pipelines.stages.context import StageContext
from schemas.avatar import LookAtCommand
from schemas.events import EventType, JobEvent
from schemas.jobs import JobKind, JobStatus

# Redis outlives each test's database: every test has a session id of its own.
SESSION = {"_id": "s-avatar", "persona": "hana", "persona_version": "1", "owner": "k"}


def session_events(context: StageContext) -> list[JobEvent]:
    entries: Any = context.events.client.xrange("events:session:s-avatar")
    return [JobEvent.model_validate_json(fields[b"data"]) for _, fields in entries]


def test_a_command_is_a_completed_job_announced_then_ended_and_never_a_conversation_turn(
    stage_context: StageContext,
) -> None:
    command = LookAtCommand(x=0.2, y=1.5, z=2.0)
    job = send_command(stage_context, session=SESSION, owner="k", command=command)
    events = session_events(stage_context)
    assert [(e.type, e.job_id) for e in events] == [
        (EventType.avatar_command, job["_id"]),
        (EventType.job_completed, job["_id"]),
    ]
    assert events[0].command == command and events[1].reply is None
    stored = jobs.get_job(stage_context.storage, job["_id"])
    assert stored is not None
    assert (stored["status"], stored["kind"], stored["followups"]) == ("completed", "avatar", [])
    [view] = load_job_views(stage_context.storage, stage_context.settings, [stored])
    assert view.command == command and view.kind == JobKind.avatar and view.segments == []
    assert stage_context.context.recent("s-avatar") == []  # a gesture is not something anyone said
    assert stage_context.dispatcher.sent == []  # type: ignore[attr-defined]  # nothing to queue


def test_a_finished_line_is_remembered_as_the_avatar_speaking_unprompted(stage_context: StageContext) -> None:
    line = jobs.create_job(
        stage_context.storage,
        session_id="s-remembered",
        kind=JobKind.speak.value,
        persona="hana",
        persona_version="1",
        input_text="[happy] Thanks for the sub!",
        extra={
            "status": JobStatus.completed.value,
            "reply": {"text": "Thanks for the sub!", "emotion": "happy", "motions": [], "done": True},
            "followups": [jobs.FOLLOWUP_CONTEXT],
        },
    )
    run_job_followups(stage_context, line)
    [turn] = stage_context.context.recent("s-remembered")
    assert (turn.user, turn.assistant, turn.emotion) == ("", "Thanks for the sub!", "happy")


def test_a_session_less_animation_is_no_ones_conversation(stage_context: StageContext) -> None:
    baked = jobs.create_job(
        stage_context.storage,
        session_id=None,
        kind=JobKind.animation.value,
        persona="hana",
        persona_version="1",
        input_text="Hello.",
        extra={
            "status": JobStatus.completed.value,
            "reply": {"text": "Hello.", "emotion": "neutral", "motions": [], "done": True},
            "followups": [jobs.FOLLOWUP_CONTEXT, jobs.FOLLOWUP_EVENT],
        },
    )
    run_job_followups(stage_context, baked)
    entries: Any = stage_context.events.client.xrange(f"events:job:{baked['_id']}")
    assert [fields[b"type"] for _, fields in entries] == [b"job.completed"]
    assert not stage_context.events.client.exists("events:session:None", "events:session:")


def test_a_line_cut_off_before_any_audio_is_not_remembered(stage_context: StageContext) -> None:
    line = jobs.create_job(
        stage_context.storage,
        session_id="s-unheard",
        kind=JobKind.speak.value,
        persona="hana",
        persona_version="1",
        input_text="Never heard.",
        extra={
            "status": JobStatus.interrupted.value,
            "reply": {"text": "Never heard.", "emotion": "neutral", "motions": [], "done": True},
            "interruption": {"at": jobs.utcnow(), "by": "speak", "heard_text": "", "heard_segments": 0},
            "followups": [jobs.FOLLOWUP_CONTEXT],
        },
    )
    run_job_followups(stage_context, line)
    assert stage_context.context.recent("s-unheard") == []
