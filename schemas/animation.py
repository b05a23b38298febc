"""The animation track a client plays in sync with one audio segment (Unity VRM avatar, web client).

Every curve is a list of keyframes ``(t, w)``: ``t`` in seconds from the start of the audio, ``w`` a
weight in [0, 1]. Between keyframes the weight is linearly interpolated; every curve starts at
``t = 0`` and its last keyframe lies at exactly ``duration_s``, so a client samples it at the audio
playback time with no extrapolation. The version changes whenever a client would have to change.
"""

from itertools import pairwise
from typing import Final, Literal

from pydantic import BaseModel, Field, model_validator

from schemas.emotion import Emotion

ANIMATION_SCHEMA_VERSION: Final = "1.0"

MouthShape = Literal["aa", "ih", "ou", "ee", "oh"]
MOUTH_SHAPES: tuple[MouthShape, ...] = ("aa", "ih", "ou", "ee", "oh")
Viseme = Literal["sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou"]
VISEMES: tuple[Viseme, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
)  # fmt: skip
EMOTIONS: tuple[Emotion, ...] = tuple(Emotion)  # the one emotion set: schemas/emotion.py


class Keyframe(BaseModel):
    """A weight at a time; the curve is linear between keyframes."""

    t: float = Field(ge=0.0, description="Seconds from the start of the audio.")
    w: float = Field(ge=0.0, le=1.0, description="Weight in [0, 1].")


Curve = list[Keyframe]


class Blink(BaseModel):
    """One blink of the VRM ``blink`` expression: weight 0 → 1 linearly over the first half, back to 0."""

    t: float = Field(ge=0.0, description="Start of the blink, seconds.")
    duration_s: float = Field(gt=0.0)


class MotionTrigger(BaseModel):
    """Start the named motion (a persona's allowed motion, e.g. ``wave``) at time ``t``."""

    name: str = Field(min_length=1)
    t: float = Field(ge=0.0)


class AnimationTrack(BaseModel):
    """Face and body animation for one audio segment; play it against the audio clock.

    Curves are keyframes (``t`` seconds, ``w`` weight), linearly interpolated; each starts at 0 and
    ends at exactly ``duration_s``. Keyframes of mouth and viseme curves are at least two client
    frames apart (60 fps unless built otherwise), so no shape flickers for a single frame.
    """

    schema_version: Literal["1.0"] = ANIMATION_SCHEMA_VERSION
    duration_s: float = Field(gt=0.0, description="Length of the audio segment, seconds.")
    source: Literal["alignment", "energy"] = Field(
        description="alignment: from the TTS engine's phoneme timings; energy: the text's phonemes "
        "aligned to the loudness of the audio (engines without timings)."
    )
    emotion: Emotion = Emotion.neutral
    mouth: dict[MouthShape, Curve] = Field(
        description="VRM 1.0 mouth expressions; every shape present. All zero means a closed mouth."
    )
    visemes: dict[Viseme, Curve] = Field(
        description="The 15 Oculus visemes, all present; weights sum to 1 (to rounding), sil included."
    )
    expressions: dict[Emotion, Curve] = Field(
        description="VRM emotion presets with blend-in/out; every preset present."
    )
    blinks: list[Blink] = Field(default_factory=list, description="Sorted by start time.")
    motions: list[MotionTrigger] = Field(default_factory=list, description="Sorted by time.")

    @model_validator(mode="after")
    def _curves_span_the_audio(self) -> "AnimationTrack":
        for group, names in (("mouth", MOUTH_SHAPES), ("visemes", VISEMES), ("expressions", EMOTIONS)):
            curves: dict[str, Curve] = getattr(self, group)
            if set(curves) != set(names):
                raise ValueError(f"{group} must hold exactly {', '.join(names)}")
            for name, curve in curves.items():
                times = [key.t for key in curve]
                if not curve or times[0] != 0.0 or times[-1] != self.duration_s:
                    raise ValueError(f"{group}.{name} must start at 0 and end at duration_s")
                if any(b <= a for a, b in pairwise(times)):
                    raise ValueError(f"{group}.{name} keyframe times must increase")
        if any(blink.t + blink.duration_s > self.duration_s for blink in self.blinks):
            raise ValueError("a blink ends after the audio")
        if any(motion.t > self.duration_s for motion in self.motions):
            raise ValueError("a motion starts after the audio")
        return self
