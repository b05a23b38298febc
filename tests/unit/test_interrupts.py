"""What the listener heard of an interrupted reply, and how the next prompt shows the cut."""

from datetime import UTC, datetime

from pipelines.interrupts import heard
from pipelines.prompting import INTERRUPTED_MARK, _assistant_content
from schemas.jobs import PlaybackPosition
from schemas.session import ConversationTurn

SEGMENTS = [
    {"index": 0, "text": "Once upon a time.", "audio_id": "a0", "duration_s": 1.0},
    {"index": 1, "text": "A dragon lived in a cave by the sea.", "audio_id": "a1", "duration_s": 2.0},
    {"index": 2, "text": "It loved soup.", "audio_id": None, "duration_s": None},
]


def test_without_a_position_what_was_delivered_was_heard() -> None:
    assert heard(SEGMENTS, None) == ("Once upon a time. A dragon lived in a cave by the sea.", 2)


def test_a_playback_position_keeps_the_words_up_to_it() -> None:
    # half of segment 1's audio: half of its nine words
    assert heard(SEGMENTS, PlaybackPosition(segment=1, offset_s=1.0)) == (
        "Once upon a time. A dragon lived in",
        2,
    )
    assert heard(SEGMENTS, PlaybackPosition(segment=0, offset_s=0.0)) == ("", 0)
    assert heard(SEGMENTS, PlaybackPosition(segment=1, offset_s=9.0))[1] == 2  # past its end: all of it


def test_the_next_prompt_sees_where_the_reply_was_cut() -> None:
    turn = ConversationTurn(
        job_id="j",
        user="story?",
        assistant="Once upon a time.",
        emotion="happy",
        at=datetime.now(UTC),
        interrupted=True,
    )
    assert _assistant_content(turn) == f"[happy] Once upon a time. {INTERRUPTED_MARK}"
    whole = turn.model_copy(update={"interrupted": False})
    assert _assistant_content(whole) == "[happy] Once upon a time."
