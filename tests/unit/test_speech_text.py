"""What reaches the voice: no markdown, emoji, links or stage directions, in any language."""

import pytest

from pipelines.reply_stream import ReplyStreamer
from pipelines.segmenter import SpeakableSegmenter
from pipelines.speech_text import speakable
from schemas.persona import Persona


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("**Wow**, that's *so* cool!", "Wow, that's so cool!"),
        ("Good run! *waves* See you tomorrow.", "Good run! See you tomorrow."),
        ("*giggles* Okay, okay.", "Okay, okay."),
        ("Check https://example.com/shop?id=3 for merch", "Check for merch"),
        ("[the schedule](https://example.com/s) is up", "the schedule is up"),
        ("# Plan\n- warm up\n- boss", "Plan warm up boss"),
        ("Use `/join` to play", "Use /join to play"),
        ("GG 🎉🎉 that was close 👍🏽", "GG that was close"),
        ("안녕하세요! 😊 반가워요", "안녕하세요! 반가워요"),
        ("こんにちは♪ 今日もよろしくね", "こんにちは 今日もよろしくね"),
        ("snake_case and 5*3", "snake case and 5 3"),
        ("Hi! (laughs) :)", "Hi! (laughs) :)"),
    ],
)
def test_only_what_a_voice_can_read_is_left(written: str, spoken: str) -> None:
    assert speakable(written) == spoken


@pytest.mark.parametrize("written", ["😂😂", "*waves*", "https://example.com", "**", "🎉 ✨"])
def test_nothing_to_say_is_empty(written: str) -> None:
    assert speakable(written) == ""


def test_a_segment_with_nothing_to_say_is_dropped_and_its_motion_kept() -> None:
    persona = Persona(id="p", name="P", system_prompt="x", allowed_motions=["wave", "nod"])
    streamer = ReplyStreamer.for_persona(persona, SpeakableSegmenter(first_clause_min_chars=None))
    reply = "[happy] Thanks for the raid! [wave] 🎉🎉🎉\n*bows deeply* [nod] Welcome, everyone."
    segments = []
    for delta in (reply[i : i + 5] for i in range(0, len(reply), 5)):
        segments += streamer.push(delta)
    segments += streamer.finish()
    assert [s.text for s in segments] == ["Thanks for the raid!", "Welcome, everyone."]
    assert [m for s in segments for m in s.motions] == ["wave", "nod"]


def test_motions_after_the_last_words_stay_with_the_last_segment() -> None:
    persona = Persona(id="p", name="P", system_prompt="x", allowed_motions=["wave"])
    streamer = ReplyStreamer.for_persona(persona, SpeakableSegmenter(first_clause_min_chars=None))
    segments = streamer.push("See you! [wave] 👋") + streamer.finish()
    assert [(s.text, s.motions) for s in segments] == [("See you!", ["wave"])]
