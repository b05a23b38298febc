"""Manual avatar commands: checked against the session's persona, recorded, delivered at once.

A command runs nothing, so it never waits in a queue: it is stored as a job of kind ``avatar``
that is completed from the start (the session's history shows it, with the command), then
``avatar.command`` and ``job.completed`` go to the session's event log, where every avatar client
of the session receives them. The end is announced through the job's follow-ups like any other
job's, so a crash between the two leaves ``job.completed`` to the sweep, never unsent.
"""

from typing import Any

from pipelines.emotion_tags import TagVocabulary, normalize_tag_name
from pipelines.errors import StageError
from pipelines.followups import run_job_followups
from pipelines.jobs import FOLLOWUP_EVENT, create_job
from pipelines.stages.context import StageContext
from schemas.avatar import AvatarCommand, ExpressionCommand, MotionCommand
from schemas.emotion import Emotion
from schemas.errors import ErrorCode
from schemas.events import EventType
from schemas.jobs import JobKind, JobStatus
from schemas.persona import Persona


class UnknownName(StageError):
    """An expression or motion the persona does not have; ``valid`` lists the ones it has."""

    def __init__(self, code: ErrorCode, what: str, name: str, valid: list[str]) -> None:
        super().__init__(code, f"unknown {what} {name!r}; valid: {', '.join(valid)}")
        self.valid = valid


def valid_expressions(persona: Persona) -> list[str]:
    allowed = set(TagVocabulary.for_persona(persona).emotions.values())
    return [emotion.value for emotion in Emotion if emotion in allowed]


def valid_motions(persona: Persona) -> list[str]:
    return list(dict.fromkeys(TagVocabulary.for_persona(persona).motions.values()))


def check_expression_name(persona: Persona, name: object) -> None:
    """Refuse an expression the persona lacks before the schema would (its error lists them all)."""
    if isinstance(name, str) and name not in valid_expressions(persona):
        raise UnknownName(ErrorCode.unknown_expression, "expression", name, valid_expressions(persona))


def resolve_command(persona: Persona, command: AvatarCommand) -> AvatarCommand:
    """The command with its motion in the persona's own name (``"Shake Head"`` → ``shake_head``,
    ``waving`` → ``wave``); unknown names raise :class:`UnknownName`."""
    if isinstance(command, ExpressionCommand):
        check_expression_name(persona, command.expression.value)
    if isinstance(command, MotionCommand):
        motions = TagVocabulary.for_persona(persona).motions
        name = normalize_tag_name(command.motion)
        if name not in motions:
            raise UnknownName(ErrorCode.unknown_motion, "motion", command.motion, valid_motions(persona))
        return command.model_copy(update={"motion": motions[name]})
    return command


def send_command(
    ctx: StageContext, *, session: dict[str, Any], owner: str, command: AvatarCommand
) -> dict[str, Any]:
    """Record the (resolved) command as a completed job, then announce it and its end."""
    job = create_job(
        ctx.storage,
        session_id=session["_id"],
        kind=JobKind.avatar.value,
        persona=session["persona"],
        persona_version=session["persona_version"],
        owner=owner,
        extra={
            "status": JobStatus.completed.value,
            "command": command.model_dump(mode="json"),
            "followups": [FOLLOWUP_EVENT],
        },
    )
    ctx.events.emit(EventType.avatar_command, job, command=command)
    run_job_followups(ctx, job)
    return job
