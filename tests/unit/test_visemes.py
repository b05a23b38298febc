"""IPA → viseme → VRM mouth tables, and resolving Piper's markers into viseme spans."""

import itertools

import pytest

from pipelines.animation.visemes import (
    CLOSED_VISEMES,
    PAUSE,
    PHONEME_VISEME,
    mouth_pose,
    phoneme_viseme,
    viseme_spans,
)
from schemas.animation import VISEMES
from tests.track_samples import timings


def test_every_viseme_is_reachable_and_poses_are_in_range() -> None:
    assert set(PHONEME_VISEME.values()) | {"sil"} == set(VISEMES)
    for viseme in VISEMES:
        pose = mouth_pose(viseme)
        assert all(0.0 <= weight <= 1.0 for weight in pose)
        assert (sum(pose) == 0.0) == (viseme in CLOSED_VISEMES), viseme


@pytest.mark.parametrize(
    ("phoneme", "viseme"),
    [
        ("p", "PP"), ("b", "PP"), ("m", "PP"), ("f", "FF"), ("θ", "TH"), ("ɾ", "DD"), ("ɡ", "kk"),
        ("ʃ", "CH"), ("z", "SS"), ("n", "nn"), ("ɹ", "RR"), ("æ", "aa"), ("ɛ", "E"), ("ɪ", "ih"),
        ("ɔ", "oh"), ("ʊ", "ou"), ("n̩", "nn"), ("aɪ", "aa"),
        (".", "sil"), (",", "sil"), ("^", "sil"), ("$", "sil"), (PAUSE, "sil"),
        ("ˈ", None), ("ˌ", None), ("ː", None), (" ", None), ("ʲ", None), ("2", None),
    ],
)  # fmt: skip
def test_phoneme_viseme(phoneme: str, viseme: str | None) -> None:
    assert phoneme_viseme(phoneme) == viseme


def test_markers_take_the_viseme_of_the_sound_they_belong_to() -> None:
    # ^ m ˈ a ː p ␠ ʃ .   ("map sh.")
    spans = viseme_spans(
        timings(("^", 0.05), ("m", 0.04), ("ˈ", 0.06), ("a", 0.05), ("ː", 0.04), ("p", 0.05),
                (" ", 0.04), ("ʃ", 0.06), (".", 0.1))
    )  # fmt: skip
    got = [(s.viseme, round(s.start_s, 3), round(s.end_s, 3)) for s in spans]
    assert got == [
        ("sil", 0.0, 0.05),
        ("PP", 0.05, 0.09),
        ("aa", 0.09, 0.24),  # stress mark → next vowel, length mark → previous vowel
        ("PP", 0.24, 0.31),  # first half of the word break stays on the closure
        ("CH", 0.31, 0.39),  # second half glides into the next word
        ("sil", 0.39, 0.49),
    ]


def test_spans_are_contiguous_and_cover_the_timings() -> None:
    items = timings(("ˈ", 0.03), ("ə", 0.05), ("ʲ", 0.02), (" ", 0.04), ("ˌ", 0.02), ("!", 0.1))
    spans = viseme_spans(items)
    assert spans[0].start_s == 0.0 and spans[-1].end_s == pytest.approx(items[-1].end_s)
    assert all(a.end_s == b.start_s and a.viseme != b.viseme for a, b in itertools.pairwise(spans))


def test_markers_alone_fall_back_to_silence() -> None:
    assert [s.viseme for s in viseme_spans(timings((" ", 0.1), ("ˈ", 0.1)))] == ["sil"]
