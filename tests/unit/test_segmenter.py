import random
import re

import pytest

from pipelines.segmenter import SpeakableSegmenter


def segment(text: str, **options: object) -> list[str]:
    segmenter = SpeakableSegmenter(**options)  # type: ignore[arg-type]
    return segmenter.push(text) + segmenter.finish()


def segment_streamed(text: str, rng: random.Random, **options: object) -> list[str]:
    segmenter = SpeakableSegmenter(**options)  # type: ignore[arg-type]
    out: list[str] = []
    i = 0
    while i < len(text):
        step = rng.randint(1, 7)
        out += segmenter.push(text[i : i + step])
        i += step
    return out + segmenter.finish()


def without_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


CORPUS = [
    'Hello there! I\'m Mr. Smith, e.g. the one from the U.S. Army. Pi is 3.14... Really? "Yes." OK.',
    "Well, hello there, how are you today? I was thinking... maybe later. Wait… What?!",
    "1. Open the box\n2. Take out the cake\n\nEnjoy! Dr. J. K. Rowling wrote it in 1997. Bye. :)",
    "안녕하세요! 저는 하나예요. 오늘 기분이 어때요? 저는 정말 좋습니다. 3.5도예요!",
    "こんにちは！今日はいい天気ですね。えっと、散歩しませんか？「はい。」と彼は言った。",
    "你好！我是花。今天天气很好，对吧？我们去公园吧……好不好？",
    "This sentence has no end but it goes on and on, with clauses; and more words " * 6,
    "あいうえおかきくけこ" * 30,
    "[happy] tags are left alone by the segmenter. See fig. 3 for details!",
]


@pytest.mark.parametrize("text", CORPUS)
def test_streaming_in_random_pieces_gives_the_same_segments_as_one_push(text: str) -> None:
    expected = segment(text, max_chars=80)
    rng = random.Random(1234)
    for _ in range(40):
        assert segment_streamed(text, rng, max_chars=80) == expected


@pytest.mark.parametrize("text", CORPUS)
def test_segments_keep_all_text_and_are_never_empty_or_punctuation_only(text: str) -> None:
    segments = segment(text, max_chars=80)
    assert without_space("".join(segments)) == without_space(text)
    for s in segments:
        assert s == s.strip() and re.search(r"\w", s), s
        assert len(s) <= 80


def test_english_sentences() -> None:
    assert segment("Hi! How are you? I'm fine. Thanks.", first_clause_min_chars=None) == [
        "Hi!",
        "How are you?",
        "I'm fine.",
        "Thanks.",
    ]


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    text = (
        "Mr. Smith met Dr. Lee in the U.S. Army. We like fruit, e.g. apples, i.e. sweet things. "
        "J. K. Rowling wrote books etc. And that was it."
    )
    assert segment(text, first_clause_min_chars=None) == [
        "Mr. Smith met Dr. Lee in the U.S. Army.",
        "We like fruit, e.g. apples, i.e. sweet things.",
        "J. K. Rowling wrote books etc. And that was it.",
    ]


def test_everyday_words_before_a_full_stop_still_end_it() -> None:
    assert segment("No. I sat. It was 1999. Then it rained.", first_clause_min_chars=None) == [
        "No.",
        "I sat.",
        "It was 1999.",
        "Then it rained.",
    ]


def test_decimals_urls_and_lowercase_continuations_do_not_split() -> None:
    text = "Pi is 3.14 and e is 2.718. Visit example.com today. Weird. but fine."
    assert segment(text, first_clause_min_chars=None) == [
        "Pi is 3.14 and e is 2.718.",
        "Visit example.com today.",
        "Weird. but fine.",
    ]


def test_a_terminator_at_the_end_of_the_buffer_is_held_until_the_next_text() -> None:
    segmenter = SpeakableSegmenter(first_clause_min_chars=None)
    assert segmenter.push("It costs 3.") == []  # could be "3.5"
    assert segmenter.push("5 dollars. ") == []  # the next sentence has not started yet
    assert segmenter.push("Ok") == ["It costs 3.5 dollars."]
    assert segmenter.push(" Mr.") == []
    assert segmenter.push(" Kim is here.") == []
    assert segmenter.finish() == ["Ok Mr. Kim is here."]


def test_ellipses() -> None:
    text = "I was thinking... maybe later. Wait… What? Um...Okay."
    assert segment(text, first_clause_min_chars=None) == [
        "I was thinking... maybe later.",
        "Wait…",
        "What?",
        "Um...Okay.",
    ]


def test_closing_quotes_and_brackets_stay_with_their_sentence() -> None:
    text = 'She said "Hi there!" Then she left. (That was odd.) Right?! Sure.'
    assert segment(text, first_clause_min_chars=None) == [
        'She said "Hi there!"',
        "Then she left.",
        "(That was odd.)",
        "Right?!",
        "Sure.",
    ]


def test_korean() -> None:
    text = "안녕하세요! 저는 하나예요. 오늘 기분이 어때요? 저는 정말 좋습니다. 온도는 3.5도예요."
    assert segment(text) == [
        "안녕하세요!",
        "저는 하나예요.",
        "오늘 기분이 어때요?",
        "저는 정말 좋습니다.",
        "온도는 3.5도예요.",
    ]


def test_japanese() -> None:
    text = "こんにちは！今日はいい天気ですね。散歩しませんか？えっと…それは、楽しそう！"
    assert segment(text) == [
        "こんにちは！",
        "今日はいい天気ですね。",
        "散歩しませんか？",
        "えっと…それは、楽しそう！",
    ]


def test_japanese_quote_closes_with_its_sentence() -> None:
    assert segment("「はい。」彼はそう言った。") == ["「はい。」", "彼はそう言った。"]


def test_chinese() -> None:
    assert segment("你好！我是花。今天天气很好，对吧？") == ["你好！", "我是花。", "今天天气很好，对吧？"]


def test_ascii_marks_between_cjk_sentences() -> None:
    assert segment("本当?すごい!") == ["本当?", "すごい!"]


def test_early_first_clause_goes_at_the_first_comma_after_the_minimum() -> None:
    text = "Oh wow, that is a really great question, let me think about it. Okay, sure."
    assert segment(text, first_clause_min_chars=12) == [
        "Oh wow, that is a really great question,",
        "let me think about it.",
        "Okay, sure.",
    ]
    assert segment("えっと、今日はとても良い天気なので、散歩に行きましょう。", first_clause_min_chars=8) == [
        "えっと、今日はとても良い天気なので、",
        "散歩に行きましょう。",
    ]


def test_early_clause_ignores_thousands_separators() -> None:
    text = "We sold about 3,000 units today, which is great."
    assert segment(text, first_clause_min_chars=5) == ["We sold about 3,000 units today,", "which is great."]


def test_long_runs_are_force_split_at_a_clause_or_a_space() -> None:
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda " * 8
    segments = segment(words, max_chars=60, first_clause_min_chars=None)
    assert len(segments) > 4
    assert all(len(s) <= 60 for s in segments)
    assert " ".join(segments) == " ".join(words.split())  # only cut between words

    clauses = "one two three four five six seven, eight nine ten eleven twelve thirteen fourteen fifteen"
    first = segment(clauses, max_chars=60, first_clause_min_chars=None)[0]
    assert first == "one two three four five six seven,"


def test_long_cjk_run_without_spaces_is_hard_split() -> None:
    text = "あ" * 130
    assert segment(text, max_chars=50) == ["あ" * 50, "あ" * 50, "あ" * 30]


def test_list_markers_and_line_breaks() -> None:
    assert segment("Steps:\n1. Mix it\n2. Bake it") == ["Steps:", "1. Mix it", "2. Bake it"]


def test_punctuation_only_remainders_join_the_last_segment() -> None:
    assert segment("Bye. :)") == ["Bye. :)"]
    assert segment("Hello! !!!") == ["Hello! !!!"]
    assert segment("... Hello.") == ["... Hello."]


def test_nothing_speakable_gives_no_segments() -> None:
    assert segment("   ") == []
    assert segment("") == []
    assert segment("?!") == []


def test_spans_locate_segments_in_the_stream() -> None:
    segmenter = SpeakableSegmenter(first_clause_min_chars=None)
    text = "  Hi there.  Bye now."
    spans = segmenter.push_spans(text) + segmenter.finish_spans()
    assert [(s.text, text[s.start], s.end) for s in spans] == [("Hi there.", "H", 11), ("Bye now.", "B", 21)]


def test_push_after_finish_is_an_error() -> None:
    segmenter = SpeakableSegmenter()
    segmenter.finish()
    with pytest.raises(RuntimeError):
        segmenter.push("more")


def test_random_tricky_texts_stream_identically_and_lose_nothing() -> None:
    pieces = ["Mr", ".", " ", "3", "14", "!", "?", "…", "...", '"', ")", "Hello", "e.g", ",", "、", "。"]
    pieces += ["こんにちは", "안녕", "\n", "a", "B", "U.S", ":)", "  "]
    for trial in range(300):
        rng = random.Random(trial)
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 60)))
        options = {"max_chars": rng.choice([8, 20, 160]), "first_clause_min_chars": rng.choice([None, 3, 12])}
        whole = segment(text, **options)
        assert segment_streamed(text, rng, **options) == whole, text
        if re.search(r"\w", text):
            assert without_space("".join(whole)) == without_space(text), text
        assert all(re.search(r"\w", s) for s in whole), text
