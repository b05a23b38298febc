import random

import pytest

from pipelines.emotion_tags import TagStream, TagVocabulary, parse_tagged_text
from pipelines.reply_stream import ReplyStreamer
from pipelines.segmenter import SpeakableSegmenter
from schemas.emotion import Emotion, ParsedReply, TaggedSegment
from schemas.persona import Persona

ALL_EMOTIONS = [e.value for e in Emotion]
MOTIONS = ["wave", "nod", "shake_head", "bow"]


def parse(text: str, emotions: list[str] = ALL_EMOTIONS, motions: list[str] = MOTIONS) -> ParsedReply:
    return parse_tagged_text(text, emotions, motions)


def stream_reply(deltas: list[str], **persona_fields: object) -> tuple[list[TaggedSegment], ReplyStreamer]:
    persona = Persona(id="t", name="T", system_prompt="x", **persona_fields)  # type: ignore[arg-type]
    streamer = ReplyStreamer.for_persona(persona, SpeakableSegmenter(first_clause_min_chars=None))
    segments = [s for d in deltas for s in streamer.push(d)]
    return segments + streamer.finish(), streamer


def test_tags_are_parsed_and_stripped() -> None:
    reply = parse("[happy] Hi there! [wave] Nice to see you. [sad] I missed you.")
    assert reply.text == "Hi there! Nice to see you. I missed you."
    assert reply.emotions == [Emotion.happy, Emotion.sad]
    assert reply.motions == ["wave"]


def test_tags_are_case_insensitive_and_forgiving_about_spacing() -> None:
    reply = parse("[ HAPPY ]Yay! [Shake Head] No way. [shake-head] Never.")
    assert reply.text == "Yay! No way. Never."
    assert reply.emotions == [Emotion.happy]
    assert reply.motions == ["shake_head", "shake_head"]


def test_synonyms_map_to_canonical_emotions_and_motions() -> None:
    reply = parse("[joy] a [anger] b [sorrow] c [calm] d [surprise] e [waving] [nodding]")
    assert reply.emotions == [Emotion.happy, Emotion.angry, Emotion.sad, Emotion.relaxed, Emotion.surprised]
    assert reply.motions == ["wave", "nod"]


def test_unknown_and_disallowed_tags_are_removed_and_ignored() -> None:
    reply = parse("[thinking] Hmm [angry] fine [dance] ok.", emotions=["neutral", "happy"], motions=["wave"])
    assert reply.text == "Hmm fine ok."
    assert reply.emotions == []
    assert reply.motions == []
    assert reply.emotion == Emotion.neutral


def test_brackets_that_are_not_tags_stay_text() -> None:
    reply = parse("See [1] and [page 2.] and a[b]c [" + "x" * 40 + "]")
    assert reply.text == "See [1] and [page 2.] and ac [" + "x" * 40 + "]"


def test_neutral_by_default() -> None:
    reply = parse("Just words.")
    assert reply.emotion == Emotion.neutral and reply.emotions == [] and reply.motions == []


def test_dominant_emotion_covers_the_most_spoken_text() -> None:
    assert parse("[happy] Hi! [sad] I am so sorry to hear about that.").emotion == Emotion.sad
    assert parse("[surprised] Oh wow, really amazing! [happy] Yay.").emotion == Emotion.surprised
    assert parse("[happy]").emotion == Emotion.happy  # only a tag: it still says how the avatar feels


def test_persona_synonyms_in_allowed_emotions() -> None:
    vocabulary = TagVocabulary.build(["joy", "calm", "bogus"], [])
    assert set(vocabulary.emotions.values()) == {Emotion.neutral, Emotion.happy, Emotion.relaxed}


def test_a_tag_split_across_deltas_is_held_back_and_never_leaks() -> None:
    stream = TagStream(TagVocabulary.build(ALL_EMOTIONS, MOTIONS))
    assert stream.push("Hi [ha") == "Hi "
    assert stream.push("pp") == ""
    assert stream.push("y] there [1") == " there [1"
    assert stream.push("] [wa") == "] "
    assert stream.push("ve]") == ""
    assert stream.finish() == ""
    assert stream.text == "Hi  there [1] "
    assert [(e.offset, e.kind, e.name) for e in stream.events] == [
        (3, "emotion", "happy"),
        (14, "motion", "wave"),
    ]


def test_a_long_bracket_is_released_as_text_without_waiting_for_the_end() -> None:
    stream = TagStream(TagVocabulary.build(ALL_EMOTIONS, MOTIONS))
    assert (
        stream.push("[this is clearly a long aside not a tag at")
        == "[this is clearly a long aside not a tag at"
    )


def test_a_cut_off_tag_at_the_end_is_dropped() -> None:
    stream = TagStream(TagVocabulary.build(ALL_EMOTIONS, MOTIONS))
    assert stream.push("Bye! [hap") == "Bye! "
    assert stream.finish() == ""


@pytest.mark.parametrize("seed", range(20))
def test_any_delta_split_gives_the_same_clean_text_and_events(seed: int) -> None:
    text = "[happy] Hi [wave] there! [1] [sAd] Oh [unknown] no... [Surprised]Wow [nod]"
    rng = random.Random(seed)
    whole = TagStream(TagVocabulary.build(ALL_EMOTIONS, MOTIONS))
    expected = whole.push(text) + whole.finish()
    stream = TagStream(TagVocabulary.build(ALL_EMOTIONS, MOTIONS))
    clean, i = "", 0
    while i < len(text):
        step = rng.randint(1, 5)
        clean += stream.push(text[i : i + step])
        i += step
    clean += stream.finish()
    assert clean == expected and "[" not in clean.replace("[1]", "")
    assert stream.events == whole.events


def test_each_segment_gets_the_emotion_at_its_start_and_its_own_motions() -> None:
    reply = (
        "[happy] Hi there! [wave] Nice to meet you. It's sunny. "
        "[sad] [bow] Sorry, I must go [nod]. Bye. [wave]"
    )
    segments, streamer = stream_reply([reply[i : i + 3] for i in range(0, len(reply), 3)])
    assert [(s.text, s.emotion, s.motions) for s in segments] == [
        ("Hi there!", Emotion.happy, []),
        ("Nice to meet you.", Emotion.happy, ["wave"]),  # emotion carries over
        ("It's sunny.", Emotion.happy, []),
        ("Sorry, I must go.", Emotion.sad, ["bow", "nod"]),
        ("Bye.", Emotion.sad, ["wave"]),  # a motion after the last words goes with them
    ]
    assert streamer.full_text == "Hi there! Nice to meet you. It's sunny. Sorry, I must go. Bye."
    assert streamer.dominant_emotion == Emotion.happy
    assert streamer.motions == ["wave", "bow", "nod", "wave"]


def test_an_emotion_tag_mid_sentence_applies_from_the_next_segment() -> None:
    segments, _ = stream_reply(["I am fine [sad]. Really."])
    assert [(s.text, s.emotion) for s in segments] == [
        ("I am fine.", Emotion.neutral),
        ("Really.", Emotion.sad),
    ]


def test_segments_stream_out_before_the_reply_ends() -> None:
    persona = Persona(id="t", name="T", system_prompt="x")
    streamer = ReplyStreamer.for_persona(persona)
    assert streamer.push("[happy] Hello! [wa") == []
    first = streamer.push("ve] How are")
    assert [(s.text, s.emotion, s.motions) for s in first] == [("Hello!", Emotion.happy, [])]
    assert [(s.text, s.motions) for s in streamer.finish()] == [("How are", ["wave"])]


def test_disallowed_emotion_for_the_persona_keeps_the_previous_one() -> None:
    segments, _ = stream_reply(["[happy] Yes! [angry] Grr."], allowed_emotions=["happy"])
    assert [(s.text, s.emotion) for s in segments] == [("Yes!", Emotion.happy), ("Grr.", Emotion.happy)]
