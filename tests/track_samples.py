"""Synthetic signals and real tracks from the Python builder, shared by the contract tests.

The Unity and web clients are both checked against these same tracks, so both read exactly what
the backend writes.
"""

from typing import Any

import numpy as np

from pipelines.animation.track import build_animation_track
from pipelines.audio_types import PhonemeTiming
from schemas.animation import AnimationTrack

RATE = 16_000


def tone(seconds: float, amplitude: float = 0.5) -> np.ndarray:
    """A voiced-sounding test signal: a 180 Hz tone with a 5 Hz syllable-like wobble."""
    t = np.arange(round(seconds * RATE)) / RATE
    wobble = 1 + 0.3 * np.sin(2 * np.pi * 5 * t)
    return (amplitude * np.sin(2 * np.pi * 180 * t) * wobble).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), np.float32)


def timings(*items: tuple[str, float]) -> list[PhonemeTiming]:
    """Contiguous phoneme timings from (phoneme, length) pairs."""
    out, cursor = [], 0.0
    for phoneme, length in items:
        out.append(PhonemeTiming(phoneme, cursor, cursor + length))
        cursor += length
    return out


def contract_tracks() -> dict[str, AnimationTrack]:
    """Alignment- and energy-based tracks (with and without the text's phonemes), several emotions,
    cross-fades between them, blinks and motions."""
    aligned = timings(
        ("^", 0.05), ("h", 0.05), ("ˈ", 0.06), ("ɛ", 0.07), ("l", 0.05), ("o", 0.08), ("ʊ", 0.06),
        (",", 0.3), ("m", 0.06), ("ˈ", 0.05), ("æ", 0.1), ("p", 0.08), (".", 0.1), ("$", 0.05),
    )  # fmt: skip
    hello = ["h", "ə", "l", "o", "ʊ", " ", "w", "ɜ", "l", "d", "."]
    speech = np.concatenate([tone(1.2), silence(0.4), tone(1.6), silence(0.5), tone(2.0), silence(0.3)])
    common: dict[str, Any] = {"sample_rate": RATE}
    return {
        "aligned-happy": build_animation_track(
            samples=np.concatenate([tone(1.16), silence(0.3)]), phonemes=aligned, text_phonemes=None,
            emotion="happy", motions=["wave", "nod"], final=False, **common,
        ),
        "energy-text-sad": build_animation_track(
            samples=speech, phonemes=None, text_phonemes=hello * 3, emotion="sad", motions=[], seed=3,
            previous_emotion="happy", final=False, **common,
        ),
        "energy-surprised": build_animation_track(
            samples=np.concatenate([tone(0.7), silence(0.2)]), phonemes=None, text_phonemes=hello,
            emotion="surprised", motions=[], previous_emotion="sad", final=False, **common,
        ),
        "energy-no-phonemes-angry": build_animation_track(
            samples=np.concatenate([silence(0.2), tone(2.5), silence(0.3), tone(1.0)]), phonemes=None,
            text_phonemes=None, emotion="angry", motions=["bow"], seed=5, previous_emotion="surprised",
            **common,
        ),
    }  # fmt: skip


def blink_weight(track: AnimationTrack, t: float) -> float:
    """The contract's blink, written from the schema text: 0 → 1 linearly over the first half, back to 0."""
    weights = [
        1.0 - abs(2.0 * (t - blink.t) / blink.duration_s - 1.0)
        for blink in track.blinks
        if blink.t < t < blink.t + blink.duration_s
    ]
    return max(weights, default=0.0)


def reference_weights(
    track: AnimationTrack, *, fps: int, curve_key: str
) -> tuple[list[dict[str, Any]], list[dict[str, float]]]:
    """What a client must compute: every curve's weight (by the backend's own sampler) at frame times
    from before 0 to past the end, at each keyframe and between keyframes; and the blink weight."""
    from pipelines.animation.track import sample_curve

    grid = np.arange(-0.1, track.duration_s + 0.2, 1 / fps)
    samples: list[dict[str, Any]] = []
    for group in ("mouth", "visemes", "expressions"):
        curves: dict[str, list[Any]] = getattr(track, group)
        for name, curve in curves.items():
            keys = np.array([key.t for key in curve])
            times = np.concatenate([grid, keys, (keys[:-1] + keys[1:]) / 2])
            samples += [
                {"group": group, curve_key: name, "t": float(t), "w": float(w)}
                for t, w in zip(times, sample_curve(curve, times), strict=True)
            ]
    blink_times = [b.t + f * b.duration_s for b in track.blinks for f in (0, 0.1, 0.25, 0.5, 0.75, 0.9, 1)]
    blinks = [{"t": t, "w": blink_weight(track, t)} for t in [*blink_times, *grid.tolist()]]
    return samples, blinks


def ready_segment_docs(tracks: list[AnimationTrack]) -> list[dict[str, Any]]:
    """Stored segment documents, one per track, finished (audio and animation ready)."""
    return [
        {
            "index": index,
            "text": f"Sentence {index}.",
            "emotion": track.emotion,
            "motions": [motion.name for motion in track.motions],
            "audio_id": f"audio{index}",
            "audio_format": "wav",
            "sample_rate": RATE,
            "duration_s": track.duration_s,
            "animation": track.model_dump(mode="json"),
            "ready": True,
            "timings": {},
        }
        for index, track in enumerate(tracks)
    ]
