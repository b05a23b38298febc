"""Entry point: audio (+ phoneme timings or the text's phonemes) → the AnimationTrack a client plays.

Lip sync is keyframed per sound: a short sound peaks at its centre, a long one holds its pose, and
the glide between poses is the co-articulation. Keyframes closer than two client frames are merged
so no mouth shape ever shows for a single frame; when one of them closes the mouth (silence, p/b/m)
the closure wins, because a missed closure is what viewers notice.
"""

import numpy as np

from pipelines.animation.energy import estimate_timings
from pipelines.animation.expressions import (
    blink_schedule,
    expression_curves,
    motion_triggers,
    normalize_emotion,
)
from pipelines.animation.visemes import CLOSED_VISEMES, PAUSE, VisemeSpan, mouth_pose, viseme_spans
from pipelines.audio_types import PhonemeTiming
from pipelines.errors import StageError
from schemas.animation import MOUTH_SHAPES, VISEMES, AnimationTrack, Keyframe
from schemas.errors import ErrorCode

HOLD_EDGE_S = 0.04  # a long sound holds its pose except for the first and last 40 ms (the glides)
MIN_DURATION_S = 0.05
_POSES = np.eye(len(VISEMES))
_MOUTH = np.array([mouth_pose(viseme) for viseme in VISEMES])  # visemes → VRM mouth weights (linear)
_CLOSED = np.array([viseme in CLOSED_VISEMES for viseme in VISEMES])


def build_animation_track(
    *,
    samples: np.ndarray,
    sample_rate: int,
    phonemes: list[PhonemeTiming] | None,
    text_phonemes: list[str] | None,
    emotion: str,
    motions: list[str],
    seed: int = 0,
    fps: int = 60,
    previous_emotion: str | None = None,
    final: bool = True,
) -> AnimationTrack:
    """Alignment-based when the engine gave phoneme timings, energy-based otherwise."""
    duration = round(len(samples) / sample_rate, 4) if sample_rate > 0 else 0.0
    if duration < MIN_DURATION_S:
        raise StageError(ErrorCode.animation_failed, f"audio of {duration:.3f} s is too short to animate")
    timings = phonemes or estimate_timings(samples, sample_rate, text_phonemes or [])
    times, poses = lip_keyframes(viseme_spans(_cover(timings, duration)), duration, 2.0 / fps)
    mouth = poses @ _MOUTH
    preset = normalize_emotion(emotion)
    expressions = expression_curves(
        preset,
        duration,
        previous=normalize_emotion(previous_emotion) if previous_emotion else None,
        final=final,
    )
    return AnimationTrack(
        duration_s=duration,
        source="alignment" if phonemes else "energy",
        emotion=preset,
        mouth={shape: _curve(times, mouth[:, i]) for i, shape in enumerate(MOUTH_SHAPES)},
        visemes={viseme: _curve(times, poses[:, i]) for i, viseme in enumerate(VISEMES)},
        expressions={name: _curve(*np.array(points).T) for name, points in expressions.items()},
        blinks=blink_schedule(preset, expressions[preset], duration, seed),
        motions=motion_triggers(motions, duration),
    )


def lip_keyframes(spans: list[VisemeSpan], duration: float, min_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Keyframe times and viseme weight rows (one per keyframe); closed at both ends of the audio."""
    keys: list[tuple[float, np.ndarray]] = []
    for span in spans:
        pose, length = _POSES[VISEMES.index(span.viseme)], span.end_s - span.start_s
        if span.viseme == "sil" and length >= min_gap:
            keys += [(span.start_s, pose), (span.end_s, pose)]  # closed for the whole pause
        elif length >= 2 * HOLD_EDGE_S + min_gap:
            keys += [(span.start_s + HOLD_EDGE_S, pose), (span.end_s - HOLD_EDGE_S, pose)]
        else:
            keys.append(((span.start_s + span.end_s) / 2, pose))
    rest = _POSES[VISEMES.index("sil")]
    keys = [(0.0, rest), *keys, (duration, rest)]
    merged: list[tuple[float, np.ndarray]] = []
    for key in keys:
        while merged and key[0] - merged[-1][0] < min_gap:
            key = _merge(merged.pop(), key)
        merged.append(key)
    times = np.array([t for t, _ in merged])
    times[0], times[-1] = 0.0, duration  # edge keys may have merged inwards; the rest pose still holds
    return times, np.array([pose for _, pose in merged])


def _merge(a: tuple[float, np.ndarray], b: tuple[float, np.ndarray]) -> tuple[float, np.ndarray]:
    """One keyframe for two too close together: a mouth closure wins, otherwise the average."""
    a_closed, b_closed = bool(a[1][_CLOSED].sum() > 0.999), bool(b[1][_CLOSED].sum() > 0.999)
    if a_closed != b_closed:
        return a if a_closed else b
    return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2


def _cover(timings: list[PhonemeTiming], duration: float) -> list[PhonemeTiming]:
    """Clip timings to the audio and pad any uncovered tail with a pause."""
    clipped = [t for t in timings if t.start_s < duration]
    end = clipped[-1].end_s if clipped else 0.0
    if clipped and end > duration:
        clipped[-1] = PhonemeTiming(clipped[-1].phoneme, clipped[-1].start_s, duration)
    elif end < duration:
        clipped.append(PhonemeTiming(PAUSE, end, duration))
    return clipped


def _curve(times: np.ndarray, weights: np.ndarray) -> list[Keyframe]:
    """Schema keyframes, rounded, with the inner points of constant runs dropped (they add nothing)."""
    t = np.round(times, 4)
    w = np.clip(np.round(weights, 3), 0.0, 1.0)
    keep = np.ones(len(t), dtype=bool)
    keep[1:-1] = ~((w[1:-1] == w[:-2]) & (w[1:-1] == w[2:]))
    return [Keyframe(t=float(ti), w=float(wi)) for ti, wi in zip(t[keep], w[keep], strict=True)]


def sample_curve(curve: list[Keyframe], times: np.ndarray) -> np.ndarray:
    """A curve's weights at the given times, as a client plays it (linear between keyframes)."""
    return np.interp(times, [key.t for key in curve], [key.w for key in curve])
