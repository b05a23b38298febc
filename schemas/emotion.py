"""Emotion and motion tags: the contract between the LLM prompt, the pipeline and the clients.

Tag grammar (what the model writes inline in its reply)::

    tag     := "[" space* name space* "]"
    name    := letter (letter | "_" | "-" | " ")*      at most 32 characters, case-insensitive
    letter  := "a".."z" | "A".."Z"

- A name is normalised by lower-casing it and turning spaces and hyphens into ``_``
  (``[Shake Head]`` is ``shake_head``).
- An **emotion tag** names one of the canonical emotions below, or a synonym of one
  (:data:`EMOTION_SYNONYMS`, e.g. ``[joy]`` is ``happy``). It sets the emotion for the text that
  follows until the next emotion tag. The model is asked to start every sentence with one.
- A **motion tag** names one of the persona's ``allowed_motions`` (or a synonym from
  :data:`MOTION_SYNONYMS`, e.g. ``[waving]`` is ``wave``). It is a one-off gesture at that point.
- Only the persona's ``allowed_emotions`` count (``neutral`` is always allowed: it is the default
  before any emotion tag). Any other bracketed name (``[sic]``, ``[thinking]``, an emotion the
  persona does not allow) is an unknown tag: it is removed and has no effect.
- Tags are never spoken: they are stripped from the text sent to speech synthesis.
- Brackets that do not fit the grammar (``[1]``, ``[see p. 2]``) are ordinary text.

Every speakable segment carries the emotion in force at its first character and the motions that
appeared within it (:class:`TaggedSegment`); a whole reply also has a dominant emotion
(:class:`ParsedReply`): the one covering the most spoken characters.
"""

from enum import StrEnum

from pydantic import BaseModel, Field


class Emotion(StrEnum):
    """The canonical emotions; the same six expression presets a VRM avatar has."""

    neutral = "neutral"
    happy = "happy"
    angry = "angry"
    sad = "sad"
    relaxed = "relaxed"
    surprised = "surprised"


# Words models commonly write instead of the canonical names (small models especially).
EMOTION_SYNONYMS: dict[str, Emotion] = {
    **{e.value: e for e in Emotion},
    "normal": Emotion.neutral,
    "serious": Emotion.neutral,
    "joy": Emotion.happy,
    "joyful": Emotion.happy,
    "happiness": Emotion.happy,
    "glad": Emotion.happy,
    "cheerful": Emotion.happy,
    "excited": Emotion.happy,
    "delighted": Emotion.happy,
    "smile": Emotion.happy,
    "smiling": Emotion.happy,
    "laugh": Emotion.happy,
    "laughing": Emotion.happy,
    "fun": Emotion.happy,
    "anger": Emotion.angry,
    "mad": Emotion.angry,
    "annoyed": Emotion.angry,
    "furious": Emotion.angry,
    "irritated": Emotion.angry,
    "frustrated": Emotion.angry,
    "sorrow": Emotion.sad,
    "sadness": Emotion.sad,
    "unhappy": Emotion.sad,
    "upset": Emotion.sad,
    "cry": Emotion.sad,
    "crying": Emotion.sad,
    "disappointed": Emotion.sad,
    "lonely": Emotion.sad,
    "calm": Emotion.relaxed,
    "relax": Emotion.relaxed,
    "relief": Emotion.relaxed,
    "relieved": Emotion.relaxed,
    "content": Emotion.relaxed,
    "peaceful": Emotion.relaxed,
    "chill": Emotion.relaxed,
    "gentle": Emotion.relaxed,
    "surprise": Emotion.surprised,
    "shocked": Emotion.surprised,
    "shock": Emotion.surprised,
    "amazed": Emotion.surprised,
    "astonished": Emotion.surprised,
    "wow": Emotion.surprised,
}

MOTION_SYNONYMS: dict[str, str] = {
    "waving": "wave",
    "wave_hand": "wave",
    "nodding": "nod",
    "nods": "nod",
    "shake": "shake_head",
    "head_shake": "shake_head",
    "shaking_head": "shake_head",
    "shakes_head": "shake_head",
    "bowing": "bow",
    "bows": "bow",
}

MAX_TAG_NAME_CHARS = 32


class SegmentTags(BaseModel):
    """What the face and voice do while one segment is spoken."""

    emotion: Emotion = Emotion.neutral
    motions: list[str] = Field(default_factory=list, description="Gestures in the order they appeared.")


class TaggedSegment(SegmentTags):
    """One speakable piece of a reply, tags stripped, with the tags that apply to it."""

    text: str


class ParsedReply(BaseModel):
    """A whole reply with its tags parsed out."""

    text: str = Field(description="The spoken text, tags removed.")
    emotion: Emotion = Field(
        default=Emotion.neutral, description="Dominant emotion: the one covering the most spoken text."
    )
    emotions: list[Emotion] = Field(default_factory=list, description="Emotion tags in order of appearance.")
    motions: list[str] = Field(default_factory=list)
