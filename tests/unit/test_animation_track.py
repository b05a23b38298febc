"""The animation track from synthetic audio and timings: shape of the track and its guarantees."""

import itertools

import numpy as np
import pytest

from pipelines.animation import build_animation_track
from pipelines.animation.energy import estimate_timings
from pipelines.animation.track import sample_curve
from pipelines.audio_types import PhonemeTiming
from pipelines.errors import StageError
from schemas.animation import EMOTIONS, AnimationTrack, Emotion, Keyframe
from schemas.errors import ErrorCode
from tests.track_samples import RATE, silence, timings, tone

FPS = 60


# "^ hˈɛloʊ, mˈæp . $" with a 0.3 s pause after the comma
ALIGNED = timings(
    ("^", 0.05), ("h", 0.05), ("ˈ", 0.06), ("ɛ", 0.07), ("l", 0.05), ("o", 0.08), ("ʊ", 0.06),
    (",", 0.3), ("m", 0.06), ("ˈ", 0.05), ("æ", 0.1), ("p", 0.08), (".", 0.1), ("$", 0.05),
)  # fmt: skip


def build(
    samples: np.ndarray, phonemes: list[PhonemeTiming] | None = None, **kwargs: object
) -> AnimationTrack:
    args: dict = {"text_phonemes": None, "emotion": "neutral", "motions": [], **kwargs}
    return build_animation_track(samples=samples, sample_rate=RATE, phonemes=phonemes, **args)


def openness(track: AnimationTrack, times: np.ndarray) -> np.ndarray:
    return np.sum([sample_curve(curve, times) for curve in track.mouth.values()], axis=0)


def all_curves(track: AnimationTrack) -> list[list[Keyframe]]:
    return [*track.mouth.values(), *track.visemes.values(), *track.expressions.values()]


def test_alignment_track_spans_the_audio_and_closes_the_mouth_on_silence_and_pbm() -> None:
    samples = tone(ALIGNED[-1].end_s)
    track = build(samples, ALIGNED)
    assert track.source == "alignment" and track.schema_version == "1.0"
    assert track.duration_s == pytest.approx(len(samples) / RATE, abs=1e-4)
    assert all(c[0].t == 0.0 and c[-1].t == track.duration_s for c in all_curves(track))
    within = lambda span: openness(track, np.linspace(span.start_s, span.end_s, 50))  # noqa: E731
    pause, m, ae, p = ALIGNED[7], ALIGNED[8], ALIGNED[10], ALIGNED[11]
    assert within(pause).max() < 1e-6
    assert within(m).min() < 1e-6 and within(p).min() < 1e-6  # lips close on m and p
    assert within(ae).max() > 0.8
    assert openness(track, np.array([0.0, track.duration_s])).tolist() == [0.0, 0.0]


def test_visemes_sum_to_one_and_mouth_follows_them() -> None:
    track = build(tone(ALIGNED[-1].end_s), ALIGNED)
    times = np.linspace(0, track.duration_s, 400)
    total = np.sum([sample_curve(curve, times) for curve in track.visemes.values()], axis=0)
    assert np.allclose(total, 1.0, atol=0.01)
    vowel = (ALIGNED[10].start_s + ALIGNED[10].end_s) / 2
    assert sample_curve(track.visemes["aa"], np.array([vowel]))[0] == pytest.approx(1.0)
    assert sample_curve(track.mouth["aa"], np.array([vowel]))[0] == pytest.approx(0.9)


@pytest.mark.parametrize("step", [0.004, 0.011, 0.023])
def test_rapid_phonemes_never_flicker_and_stay_in_range(step: float) -> None:
    """No keyframes closer than two frames: every change spans at least two frames at 60 fps."""
    rng = np.random.default_rng(7)
    chars = list("pabimeotusk ˈːɹæʃ,")
    fast = timings(*[(str(rng.choice(chars)), step) for _ in range(int(1.5 / step))])
    track = build(tone(fast[-1].end_s), fast)
    for curve in [*track.mouth.values(), *track.visemes.values()]:
        gaps = np.diff([key.t for key in curve])
        assert gaps.min() >= 2 / FPS - 1e-3
        assert all(0.0 <= key.w <= 1.0 for key in curve)
    frames = openness(track, np.arange(0, track.duration_s, 1 / FPS))
    assert np.abs(np.diff(frames)).max() <= 0.5 + 1e-6  # a full open/close takes two frames or more


def test_a_closure_shorter_than_two_frames_still_closes_the_lips() -> None:
    """Too-close keyframes merge; the closure must win over the vowel next to it."""
    items = timings(("a", 0.2), ("b", 0.02), ("ɪ", 0.02), ("a", 0.2))
    track = build(tone(0.44), items)
    assert openness(track, np.linspace(0.2, 0.22, 21)).min() < 1e-6


def test_energy_track_closes_the_mouth_where_the_audio_is_silent() -> None:
    samples = np.concatenate([silence(0.2), tone(0.6), silence(0.4), tone(0.5), silence(0.2)])
    text = ["h", "ə", "l", "ˈ", "o", "ʊ", ",", " ", "w", "ˈ", "ɜ", "ː", "l", "d", "."]
    track = build(samples, None, text_phonemes=text)
    assert track.source == "energy"
    assert track.duration_s == pytest.approx(len(samples) / RATE, abs=1e-4)
    assert openness(track, np.linspace(0.0, 0.15, 10)).max() < 1e-6
    assert openness(track, np.linspace(0.85, 1.15, 10)).max() < 1e-6  # the gap between phrases
    assert openness(track, np.linspace(1.75, track.duration_s, 10)).max() < 1e-6
    assert openness(track, np.linspace(0.3, 0.7, 20)).max() > 0.5
    assert openness(track, np.linspace(1.25, 1.6, 20)).max() > 0.5


@pytest.mark.parametrize("text", [[], ["ˈ", "a"] * 200, list("pa, pa, pa, pa, pa.")])
def test_energy_timings_cover_the_audio_whatever_the_text(text: list[str]) -> None:
    samples = np.concatenate([silence(0.1), tone(0.4), silence(0.2), tone(0.3)])
    result = estimate_timings(samples, RATE, text)
    assert result[0].start_s == 0.0 and result[-1].end_s == pytest.approx(len(samples) / RATE)
    assert all(
        a.end_s == pytest.approx(b.start_s) and a.end_s > a.start_s for a, b in itertools.pairwise(result)
    )
    assert {t.phoneme for t in result} - {"_"}  # speech got phonemes even without text


def test_silent_audio_gives_a_closed_mouth() -> None:
    track = build(silence(1.0), None, text_phonemes=list("hi."))
    assert all(key.w == 0.0 for curve in track.mouth.values() for key in curve)


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_expressions_follow_the_emotion_with_blend_in_and_out(emotion: str) -> None:
    track = build(tone(2.0), timings(("a", 2.0)), emotion=emotion.upper())
    assert track.emotion == emotion
    curve = track.expressions[Emotion(emotion)]
    weights = sample_curve(curve, np.array([0.0, 0.1, 1.0, 1.9, 2.0]))
    assert weights[0] == 0.0 and weights[-1] == 0.0
    assert 0.0 < weights[1] < weights[2] and weights[3] < weights[2]
    others = [c for name, c in track.expressions.items() if name != emotion]
    assert all(key.w == 0.0 for c in others for key in c)


def test_unknown_emotion_falls_back_to_neutral() -> None:
    assert build(tone(1.0), emotion="smug").emotion == "neutral"


def test_blinks_are_reproducible_by_seed_and_skipped_while_surprised() -> None:
    samples = tone(20.0)
    first, again, other = (build(samples, seed=s).blinks for s in (1, 1, 2))
    assert first == again and first != other
    assert 3 <= len(first) <= 10  # one every 2-5 s
    assert all(b.t + b.duration_s <= 20.0 for b in first)
    surprised = build(samples, seed=1, emotion="surprised").blinks
    assert all(b.t < 0.25 or b.t + b.duration_s > 19.6 for b in surprised)  # only while blending


def test_motions_are_spread_over_the_segment_in_order() -> None:
    track = build(tone(3.0), motions=["wave", " ", "nod"])
    assert [(m.name, m.t) for m in track.motions] == [("wave", 0.0), ("nod", 1.5)]


def test_too_short_audio_is_refused() -> None:
    with pytest.raises(StageError) as caught:
        build(tone(0.01))
    assert caught.value.code == ErrorCode.animation_failed


def test_schema_refuses_curves_that_do_not_span_the_audio() -> None:
    track = build(tone(1.0), ALIGNED[:3])
    data = track.model_dump()
    data["mouth"]["aa"][-1]["t"] = 0.5
    with pytest.raises(ValueError, match="end at duration_s"):
        AnimationTrack.model_validate(data)
    data = track.model_dump()
    data["visemes"]["sil"][0]["w"] = 1.5
    with pytest.raises(ValueError):
        AnimationTrack.model_validate(data)


def test_emotion_holds_across_segments_of_one_reply_and_blends_out_at_the_end() -> None:
    from pipelines.animation.expressions import EMOTION_INTENSITY, expression_curves

    first = expression_curves(Emotion.happy, 2.0, previous=None, final=False)
    middle = expression_curves(Emotion.happy, 2.0, previous=Emotion.happy, final=False)
    changed = expression_curves(Emotion.sad, 2.0, previous=Emotion.happy, final=True)
    peak = EMOTION_INTENSITY[Emotion.happy]
    assert first[Emotion.happy][0] == (0.0, 0.0) and first[Emotion.happy][-1] == (2.0, peak)
    assert middle[Emotion.happy][0] == (0.0, peak) and middle[Emotion.happy][-1] == (2.0, peak)  # no dip
    assert (
        changed[Emotion.happy][0] == (0.0, peak) and changed[Emotion.happy][-1][1] == 0.0
    )  # cross-fade away
    assert changed[Emotion.sad][0] == (0.0, 0.0) and changed[Emotion.sad][-1] == (
        2.0,
        0.0,
    )  # final: rest face
