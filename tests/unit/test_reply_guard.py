from collections.abc import Iterator

from pipelines.reply_guard import (
    assistant_phrase,
    echo_run,
    echoes,
    guard_first_sentence,
    off_character,
    until_off_character,
)
from pipelines.reply_stream import ReplyStreamer
from schemas.emotion import Emotion, TaggedSegment
from schemas.persona import Persona

HANA = Persona(id="t", name="Hana", system_prompt="x", allowed_motions=["wave"])


def test_the_parroted_demo_line_is_an_echo() -> None:
    viewer = "Hi Hana! I just got here. What are we playing today?"
    assert echoes(viewer, "Hey, Hannah. I just got here. What are we playing today?")


def test_a_reply_on_topic_is_not_an_echo() -> None:
    viewer = "Hi Hana! I just got here. What are we playing today?"
    assert not echoes(viewer, "Welcome in! We're trying a cozy farming game, come help me plant turnips.")


def test_repeating_most_of_a_game_line_is_an_echo_but_a_short_greeting_back_is_not() -> None:
    assert echoes("gg, that boss fight was insane", "That boss fight was insane!")
    assert not echoes("hi Hana!", "Hi hi! Welcome!")


def test_a_short_shared_run_in_a_long_line_is_not_an_echo() -> None:
    viewer = "I have a job interview tomorrow and I'm so nervous about the questions they will ask"
    run, share = echo_run(viewer, "A job interview tomorrow? You'll do great!")
    assert run == 4 and share < 0.5
    assert not echoes(viewer, "A job interview tomorrow? You'll do great!")


def test_japanese_characters_count_as_half_words() -> None:
    viewer = "今のボス戦すごかった！ナイス！"
    assert echoes(viewer, "今のボス戦すごかった！")
    assert not echoes(viewer, "ありがとう！がんばったよ！")


def test_assistant_phrases_are_found_in_english_korean_and_japanese() -> None:
    assert assistant_phrase("Hey there! How can I assist you today?") == "How can I assist"
    assert assistant_phrase("As an AI, I don't have personal opinions.") is not None
    assert assistant_phrase("No problem, I'm just here to help.") is not None
    assert assistant_phrase("I just exist to assist you with your chat.") is not None
    assert assistant_phrase("Not exactly, I'm a computer program.") is not None
    assert assistant_phrase("무엇을 도와드릴까요?") is not None
    assert assistant_phrase("何かお手伝いできることはありますか？") is not None
    assert assistant_phrase("Ooh, I love cozy games! Let's play one after this boss.") is None


def test_off_character_names_the_reason() -> None:
    assert off_character("what are we playing today?", "What are we playing today? Hmm.") == "echo"
    assert off_character("hello", "Let me know if you have any other questions!") == "assistant"
    assert off_character("hello", "Hi hi, welcome to the stream!") is None


class Attempts:
    """Stream factory: one scripted reply per attempt, recording which were opened and closed."""

    def __init__(self, *replies: list[str]) -> None:
        self.replies = replies
        self.opened: list[int] = []
        self.closed: list[int] = []

    def __call__(self, attempt: int) -> Iterator[str]:
        self.opened.append(attempt)

        def deltas() -> Iterator[str]:
            try:
                yield from self.replies[attempt]
            finally:
                self.closed.append(attempt)

        return deltas()


def test_a_good_first_sentence_streams_through_unchanged_from_one_attempt() -> None:
    attempts = Attempts(["[happy] Welcome", " in! We're ", "playing a farm game. ", "[wave] Come on!"])
    reasons: list[str] = []
    out = "".join(guard_first_sentence(attempts, ReplyStreamer.for_persona(HANA), "hi", reasons.append))
    assert out == "[happy] Welcome in! We're playing a farm game. [wave] Come on!"
    assert attempts.opened == [0] and reasons == []


def test_an_echoing_first_sentence_is_asked_again_once_and_nothing_of_it_is_passed_on() -> None:
    attempts = Attempts(
        ["[happy] What are we ", "playing today? ", "Who knows!"],
        ["[happy] A cozy farm game! ", "Come plant turnips."],
    )
    reasons: list[str] = []
    guarded = guard_first_sentence(
        attempts, ReplyStreamer.for_persona(HANA), "What are we playing today?", reasons.append
    )
    assert "".join(guarded) == "[happy] A cozy farm game! Come plant turnips."
    assert attempts.opened == [0, 1] and reasons == ["echo"]
    assert 0 in attempts.closed  # the first attempt stopped at its first sentence


def test_the_second_attempt_is_used_even_when_it_is_off_too() -> None:
    attempts = Attempts(["How can I assist you today?"], ["How can I help you?"])
    out = "".join(guard_first_sentence(attempts, ReplyStreamer.for_persona(HANA), "hello"))
    assert out == "How can I help you?"
    assert attempts.opened == [0, 1]


def test_a_reply_without_a_sentence_end_is_judged_when_the_stream_ends() -> None:
    attempts = Attempts(["let me know if you have any questions"], ["[happy] Hehe"])
    assert "".join(guard_first_sentence(attempts, ReplyStreamer.for_persona(HANA), "hi")) == "[happy] Hehe"
    good = Attempts(["[happy] hehe thanks"])
    assert "".join(guard_first_sentence(good, ReplyStreamer.for_persona(HANA), "hi")) == "[happy] hehe thanks"


def segments(*texts: str) -> list[TaggedSegment]:
    return [TaggedSegment(text=text, emotion=Emotion.happy) for text in texts]


def test_a_later_help_desk_sentence_ends_the_reply_before_it() -> None:
    reply = segments("Ooh, a cozy game!", "Let me know if you have any other questions.", "Bye!")
    kept, stopped = until_off_character("any cozy games?", reply, index=0)
    assert [s.text for s in kept] == ["Ooh, a cozy game!"] and stopped
    kept, stopped = until_off_character("any cozy games?", segments("Hehe.", "Yes!"), index=1)
    assert [s.text for s in kept] == ["Hehe.", "Yes!"] and not stopped


def test_the_first_sentence_is_left_to_the_first_sentence_guard() -> None:
    kept, stopped = until_off_character("hello", segments("How can I help you?"), index=0)
    assert len(kept) == 1 and not stopped
    kept, stopped = until_off_character("hello", segments("How can I help you?"), index=2)
    assert kept == [] and stopped
