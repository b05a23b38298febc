"""The non-speech layers of a track: emotion expression, blinks and motion triggers.

Curves here are plain ``(t, w)`` lists; track.py turns them into schema keyframes.
"""

import numpy as np

from schemas.animation import EMOTIONS, Blink, Emotion, MotionTrigger

# Peak weight per emotion: below 1 where the full preset would fight the lip sync (VRM "happy" and
# "relaxed" close the eyes and shape the mouth at full weight).
EMOTION_INTENSITY: dict[Emotion, float] = {
    Emotion.happy: 0.8, Emotion.angry: 0.75, Emotion.sad: 0.7,
    Emotion.relaxed: 0.6, Emotion.surprised: 0.85, Emotion.neutral: 1.0,
}  # fmt: skip
BLEND_IN_S = 0.25
BLEND_OUT_S = 0.4

# Blink spacing per emotion (humans blink every 2-6 s; a stare blinks less, sadness more slowly).
BLINK_INTERVAL_S: dict[Emotion, tuple[float, float]] = {
    Emotion.neutral: (2.0, 5.0), Emotion.happy: (2.0, 5.0), Emotion.relaxed: (2.5, 6.0),
    Emotion.sad: (2.5, 6.0), Emotion.angry: (3.5, 7.0), Emotion.surprised: (3.0, 6.0),
}  # fmt: skip
BLINK_DURATION_S: dict[Emotion, float] = {Emotion.sad: 0.22, Emotion.relaxed: 0.2}
DEFAULT_BLINK_S = 0.15
# Wide-open eyes do not blink: no blink while these expressions are held strongly.
NO_BLINK_ABOVE: dict[Emotion, float] = {Emotion.surprised: 0.5}


def normalize_emotion(emotion: str) -> Emotion:
    """Map a tag to a VRM preset; unknown tags fall back to neutral rather than failing the reply."""
    tag = emotion.strip().lower()
    return next((preset for preset in EMOTIONS if preset == tag), Emotion.neutral)


def expression_curves(
    emotion: Emotion, duration_s: float, *, previous: Emotion | None = None, final: bool = True
) -> dict[Emotion, list[tuple[float, float]]]:
    """The segment's emotion, continuous across the segments of one reply.

    A segment starts where the previous one ended (``previous`` held at its peak, or a rest face
    at the start of a reply) and cross-fades to its own emotion; it blends out only when it is
    the reply's ``final`` segment. Two sentences with the same emotion therefore hold it steadily
    instead of dipping at the boundary.
    """
    blend_in = min(BLEND_IN_S, 0.4 * duration_s)
    blend_out = min(BLEND_OUT_S, 0.4 * duration_s)
    peak = EMOTION_INTENSITY[emotion]
    curves: dict[Emotion, list[tuple[float, float]]] = {
        preset: [(0.0, 0.0), (duration_s, 0.0)] for preset in EMOTIONS
    }
    start = peak if previous == emotion else 0.0
    end = 0.0 if final else peak
    curves[emotion] = [(0.0, start), (blend_in, peak), (duration_s - blend_out, peak), (duration_s, end)]
    if previous is not None and previous != emotion:
        earlier = EMOTION_INTENSITY[previous]
        curves[previous] = [(0.0, earlier), (blend_in, 0.0), (duration_s, 0.0)]
    return curves


def blink_schedule(
    emotion: Emotion, curve: list[tuple[float, float]], duration_s: float, seed: int
) -> list[Blink]:
    """Blinks at random but reproducible intervals (same seed, same schedule)."""
    rng = np.random.default_rng(seed)
    low, high = BLINK_INTERVAL_S[emotion]
    length = BLINK_DURATION_S.get(emotion, DEFAULT_BLINK_S)
    times, weights = zip(*curve, strict=True)
    limit = NO_BLINK_ABOVE.get(emotion, float("inf"))
    blinks: list[Blink] = []
    start = float(rng.uniform(0.3, 1.5))
    while start + length <= duration_s - 1e-3:  # margin for rounding the start
        held = np.interp([start, start + length / 2, start + length], times, weights)
        if float(held.max()) < limit:
            blinks.append(Blink(t=round(start, 4), duration_s=length))
        start += float(rng.uniform(low, high))
    return blinks


def motion_triggers(motions: list[str], duration_s: float) -> list[MotionTrigger]:
    """Tags carry no position in the text, so motions are spread evenly from the segment start."""
    names = [name.strip() for name in motions if name.strip()]
    return [MotionTrigger(name=name, t=round(duration_s * i / len(names), 4)) for i, name in enumerate(names)]
