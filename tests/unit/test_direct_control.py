"""Avatar commands, their persona checks, and cutting a verbatim line: plain functions, no servers."""

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from api.errors import validation_code, validation_details
from pipelines.avatar_commands import UnknownName, resolve_command, valid_expressions, valid_motions
from pipelines.errors import StageError
from pipelines.prompting import build_messages
from pipelines.verbatim import cut_line
from schemas.avatar import AVATAR_COMMAND, ExpressionCommand, LookAtCommand, MotionCommand, ResetCommand
from schemas.emotion import Emotion
from schemas.errors import ErrorCode
from schemas.events import EventType, JobEvent
from schemas.persona import Persona
from schemas.session import ConversationTurn

PERSONA = Persona(
    id="p",
    name="Hana",
    system_prompt="You are Hana.",
    allowed_emotions=["neutral", "happy", "sad"],
    allowed_motions=["wave", "nod", "shake_head"],
)


def refusal(body: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        AVATAR_COMMAND.validate_python(body)
    return [dict(err) for err in caught.value.errors()]


def test_each_action_parses_to_its_own_model_with_the_documented_defaults() -> None:
    expression = AVATAR_COMMAND.validate_python({"action": "expression", "expression": "happy"})
    assert isinstance(expression, ExpressionCommand)
    assert (expression.weight, expression.duration_s, expression.fade_s) == (1.0, 2.0, None)
    motion = AVATAR_COMMAND.validate_python({"action": "motion", "motion": "wave"})
    assert isinstance(motion, MotionCommand) and motion.motion == "wave"
    look = AVATAR_COMMAND.validate_python({"action": "look_at", "x": 0.5, "y": 1.4, "z": -2})
    assert isinstance(look, LookAtCommand) and (look.x, look.y, look.z) == (0.5, 1.4, -2.0)
    assert isinstance(AVATAR_COMMAND.validate_python({"action": "reset"}), ResetCommand)


@pytest.mark.parametrize(
    "body",
    [
        {"action": "wiggle"},
        {"expression": "happy"},  # no action
        {"action": "expression", "expression": "happy", "weight": 1.5},
        {"action": "expression", "expression": "happy", "weight": -0.1},
        {"action": "expression", "expression": "happy", "duration_s": 0},
        {"action": "expression", "expression": "happy", "fade_s": -1},
        {"action": "expression", "expression": "happy", "wieght": 0.5},  # a typo is not ignored
        {"action": "look_at", "x": 1, "y": 2},
        {"action": "look_at", "x": float("nan"), "y": 0, "z": 1},
        {"action": "motion", "motion": ""},
        {"action": "reset", "hard": True},
    ],
)
def test_malformed_commands_are_refused(body: dict[str, Any]) -> None:
    errors = refusal(body)
    assert errors and validation_code(errors) == ErrorCode.validation_error


def test_an_unknown_expression_is_its_own_error_code_listing_the_valid_ones() -> None:
    errors = refusal({"action": "expression", "expression": "smug"})
    assert validation_code(errors) == ErrorCode.unknown_expression
    [detail] = validation_details(errors)
    assert detail["loc"] == ["expression", "expression"]
    assert detail["valid"] == ["neutral", "happy", "angry", "sad", "relaxed", "surprised"]
    assert "smug" in str(detail["msg"]) and "input" not in detail


def test_mixed_errors_keep_the_generic_code() -> None:
    errors = refusal({"action": "expression", "expression": "smug", "weight": 7})
    assert validation_code(errors) == ErrorCode.validation_error


def test_motions_resolve_to_the_personas_names_and_unknown_ones_list_the_valid() -> None:
    assert valid_motions(PERSONA) == ["wave", "nod", "shake_head"]
    for spoken, canonical in [("wave", "wave"), ("Shake Head", "shake_head"), ("waving", "wave")]:
        resolved = resolve_command(PERSONA, MotionCommand(motion=spoken))
        assert isinstance(resolved, MotionCommand) and resolved.motion == canonical
    with pytest.raises(UnknownName) as caught:
        resolve_command(PERSONA, MotionCommand(motion="bow"))  # a default motion this persona lacks
    assert caught.value.code == ErrorCode.unknown_motion
    assert caught.value.valid == ["wave", "nod", "shake_head"]


def test_an_expression_the_persona_does_not_allow_is_unknown_for_it() -> None:
    assert valid_expressions(PERSONA) == ["neutral", "happy", "sad"]
    sad = ExpressionCommand(expression=Emotion.sad)
    assert resolve_command(PERSONA, sad) == sad
    with pytest.raises(UnknownName) as caught:
        resolve_command(PERSONA, ExpressionCommand(expression=Emotion.angry))
    assert caught.value.code == ErrorCode.unknown_expression
    assert caught.value.valid == ["neutral", "happy", "sad"]


def test_an_avatar_command_event_carries_the_command_and_round_trips() -> None:
    event = JobEvent(
        type=EventType.avatar_command,
        job_id="j",
        session_id="s",
        at=datetime.now(UTC),
        command=LookAtCommand(x=0, y=1.5, z=2),
    )
    again = JobEvent.model_validate_json(event.model_dump_json(exclude_none=True))
    assert again.command == LookAtCommand(x=0, y=1.5, z=2)
    assert again.type == "avatar.command"


def test_a_single_sentence_keeps_its_trailing_gesture() -> None:
    [segment], reply = cut_line(PERSONA, "[happy] Thanks for the sub! [wave]")
    assert (segment.text, segment.emotion.value, segment.motions) == (
        "Thanks for the sub!",
        "happy",
        ["wave"],
    )
    assert reply["motions"] == ["wave"] and reply["done"] is True


def test_a_line_is_cut_with_the_personas_tags() -> None:
    segments, reply = cut_line(PERSONA, "[happy] Thanks for the sub! [wave] [sad] I have to go now. [bow]")
    assert [(s.text, s.emotion.value, s.motions) for s in segments] == [
        ("Thanks for the sub!", "happy", []),
        ("I have to go now.", "sad", ["wave"]),  # a gesture between sentences opens the next one
    ]  # [bow] is not this persona's: dropped, and never spoken
    assert reply == {
        "text": "Thanks for the sub! I have to go now.",
        "emotion": "happy",
        "motions": ["wave"],
        "done": True,
    }


def test_a_line_with_nothing_to_say_is_refused() -> None:
    with pytest.raises(StageError) as caught:
        cut_line(PERSONA, "[happy] [wave]")
    assert caught.value.code == ErrorCode.validation_error


def test_a_verbatim_line_in_the_context_is_the_avatar_speaking_unprompted() -> None:
    turns = [
        ConversationTurn(job_id="a", user="hi", assistant="Hello!", emotion="happy", at=datetime.now(UTC)),
        ConversationTurn(job_id="b", user="", assistant="Thanks for the sub!", at=datetime.now(UTC)),
    ]
    messages = build_messages(PERSONA, turns, "what now?", count_tokens=len, token_budget=100_000)
    tail = [(m.role, m.content) for m in messages[-4:]]
    assert tail == [
        ("user", "hi"),
        ("assistant", "[happy] Hello!"),
        ("assistant", "[neutral] Thanks for the sub!"),  # no empty user message before it
        ("user", "what now?"),
    ]
