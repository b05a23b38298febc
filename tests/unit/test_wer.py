"""The word error rate the transcription tests bound, against hand-counted edits."""

import pytest

from tests.wer import wer, word_errors, words


def test_words_are_lowercase_without_punctuation() -> None:
    assert words("The weather's lovely -- 'really', well-known. OK?") == [
        "the", "weather's", "lovely", "really", "well", "known", "ok",
    ]  # fmt: skip


def test_word_errors_count_substitutions_deletions_and_insertions() -> None:
    assert word_errors("the cat sat", "The cat sat.") == (0, 3)
    assert word_errors("the weather is lovely", "the wetter is lovely") == (1, 4)
    assert word_errors("the cat sat", "cat sat") == (1, 3)
    assert word_errors("the cat sat", "the cat sat down here") == (2, 3)
    assert word_errors("the cat sat", "") == (3, 3)
    assert word_errors("a b c d", "b c d a") == (2, 4)


def test_wer_sums_errors_over_all_reference_words() -> None:
    assert wer([("one two three four", "one two three"), ("five six", "five six")]) == pytest.approx(1 / 6)
    with pytest.raises(ValueError):
        wer([("", "anything")])
