"""Word error rate for transcription tests: word-level Levenshtein distance over normalized words.

A recognizer may hear one word differently from run to run (tiny.en writes "wetter" for "weather"
now and then), so tests bound the error rate over several clips instead of expecting exact words.
"""

import re
from collections.abc import Iterable


def words(text: str) -> list[str]:
    """Lowercase words without punctuation; a hyphen separates words, an apostrophe does not."""
    spaced = re.sub(r"[^a-z0-9']+", " ", text.lower().replace("-", " "))
    return [word for word in (w.strip("'") for w in spaced.split()) if word]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, number of reference words)."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, expected in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, heard in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (expected != heard))
    return row[-1], len(ref)


def wer(pairs: Iterable[tuple[str, str]]) -> float:
    """Errors over reference words, summed over (reference, hypothesis) pairs (not a mean of rates)."""
    errors = total = 0
    for reference, hypothesis in pairs:
        wrong, length = word_errors(reference, hypothesis)
        errors, total = errors + wrong, total + length
    if total == 0:
        raise ValueError("no reference words")
    return errors / total
