"""Parse and strip the inline ``[emotion]`` / ``[motion]`` tags of an LLM reply, also mid-stream.

The grammar is the contract in :mod:`schemas.emotion`. Tags must never reach speech synthesis, and
a tag can arrive split over several streamed deltas (``"[ha"`` then ``"ppy] Hi"``), so
:class:`TagStream` holds back a possible tag until it closes or clearly is not one.
"""

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pipelines.segmenter import tidy_spaces
from schemas.emotion import (
    EMOTION_SYNONYMS,
    MAX_TAG_NAME_CHARS,
    MOTION_SYNONYMS,
    Emotion,
    ParsedReply,
)
from schemas.persona import Persona

_TAG = re.compile(r"\[\s*([A-Za-z][A-Za-z_ -]*?)\s*\]")
# A prefix that may still become a tag once more text arrives.
_TAG_PREFIX = re.compile(r"\[\s*(?:[A-Za-z][A-Za-z_ -]*)?")
_MAX_HELD_CHARS = MAX_TAG_NAME_CHARS + 8  # name plus some padding spaces


def normalize_tag_name(raw: str) -> str:
    """``"Shake Head"`` -> ``"shake_head"``."""
    return re.sub(r"[\s-]+", "_", raw.strip().lower())


@dataclass(frozen=True)
class TagEvent:
    """A recognised tag and where it stood in the clean (tag-free) text."""

    offset: int
    kind: Literal["emotion", "motion"]
    name: str


@dataclass(frozen=True)
class TagVocabulary:
    """The tag names one persona may use, synonyms included, mapped to what they mean."""

    emotions: dict[str, Emotion]
    motions: dict[str, str]

    @classmethod
    def build(cls, allowed_emotions: Iterable[str], allowed_motions: Iterable[str]) -> "TagVocabulary":
        # Persona files may themselves use synonyms ("joy"); names outside the canonical set are ignored.
        allowed = {Emotion.neutral}
        allowed.update(
            EMOTION_SYNONYMS[n] for e in allowed_emotions if (n := normalize_tag_name(e)) in EMOTION_SYNONYMS
        )
        emotions = {name: emotion for name, emotion in EMOTION_SYNONYMS.items() if emotion in allowed}
        motions = {m: m for m in map(normalize_tag_name, allowed_motions)}  # in the persona's order
        synonyms = {syn: m for syn, m in MOTION_SYNONYMS.items() if m in motions and syn not in motions}
        motions.update(synonyms)
        return cls(emotions=emotions, motions=motions)

    @classmethod
    def for_persona(cls, persona: Persona) -> "TagVocabulary":
        return cls.build(persona.allowed_emotions, persona.allowed_motions)

    def resolve(self, raw_name: str, offset: int) -> TagEvent | None:
        """The event a tag stands for, or None for an unknown tag (which is then dropped)."""
        name = normalize_tag_name(raw_name)
        if len(name) > MAX_TAG_NAME_CHARS:
            return None
        if name in self.emotions:
            return TagEvent(offset, "emotion", self.emotions[name].value)
        if name in self.motions:
            return TagEvent(offset, "motion", self.motions[name])
        return None


class TagStream:
    """Strips tags from streamed text and records them with their position in the clean text.

    ``push`` returns the clean text that is safe to pass on; positions in :attr:`events` index into
    the concatenation of everything ``push`` and ``finish`` returned (:attr:`text`).
    """

    def __init__(self, vocabulary: TagVocabulary) -> None:
        self._vocabulary = vocabulary
        self._held = ""
        self._clean: list[str] = []
        self._clean_len = 0
        self.events: list[TagEvent] = []
        self._emotion_offsets: list[int] = []
        self._emotion_values: list[Emotion] = []
        self._motion_cursor = 0

    def push(self, delta: str) -> str:
        buf = self._held + delta
        self._held = ""
        out: list[str] = []
        out_len = self._clean_len
        while buf:
            i = buf.find("[")
            if i == -1:
                out.append(buf)
                out_len += len(buf)
                break
            out.append(buf[:i])
            out_len += i
            buf = buf[i:]
            match = _TAG.match(buf)
            if match and len(match.group(1)) <= MAX_TAG_NAME_CHARS:
                self._record(self._vocabulary.resolve(match.group(1), out_len))
                buf = buf[match.end() :]
            elif _TAG_PREFIX.fullmatch(buf) and len(buf) <= _MAX_HELD_CHARS:
                self._held = buf  # may still close into a tag: wait for the next delta
                break
            else:  # not a tag: the bracket is ordinary text
                out.append("[")
                out_len += 1
                buf = buf[1:]
        return self._emit("".join(out))

    def finish(self) -> str:
        """Flush; an unclosed tag-like fragment at the very end (a cut-off tag) is dropped."""
        self._held = ""
        return ""

    @property
    def text(self) -> str:
        """All clean text emitted so far."""
        return "".join(self._clean)

    @property
    def emotions(self) -> list[Emotion]:
        return list(self._emotion_values)

    @property
    def motions(self) -> list[str]:
        return [e.name for e in self.events if e.kind == "motion"]

    def emotion_at(self, offset: int) -> Emotion:
        """The emotion in force at a clean-text position: the last emotion tag at or before it."""
        i = bisect_right(self._emotion_offsets, offset)
        return self._emotion_values[i - 1] if i else Emotion.neutral

    def take_motions(self, until: int | None = None) -> list[str]:
        """Motions not yet taken that stood before clean position ``until`` (all if None)."""
        motions = [e for e in self.events if e.kind == "motion"]
        taken: list[str] = []
        while self._motion_cursor < len(motions) and (
            until is None or motions[self._motion_cursor].offset < until
        ):
            taken.append(motions[self._motion_cursor].name)
            self._motion_cursor += 1
        return taken

    def dominant_emotion(self) -> Emotion:
        """The emotion covering the most spoken (non-space) characters; ties go to the earliest."""
        text = self.text
        bounds = [0, *self._emotion_offsets, len(text)]
        values = [Emotion.neutral, *self._emotion_values]
        weights: dict[Emotion, int] = {}
        for emotion, start, end in zip(values, bounds, bounds[1:], strict=False):
            spoken = sum(not c.isspace() for c in text[start:end])
            if spoken:
                weights[emotion] = weights.get(emotion, 0) + spoken
        if not weights:
            return values[1] if len(values) > 1 else Emotion.neutral
        return max(weights, key=lambda e: weights[e])  # dicts keep first-seen order for ties

    def _record(self, event: TagEvent | None) -> None:
        if event is None:
            return
        self.events.append(event)
        if event.kind == "emotion":
            self._emotion_offsets.append(event.offset)
            self._emotion_values.append(Emotion(event.name))

    def _emit(self, clean: str) -> str:
        self._clean.append(clean)
        self._clean_len += len(clean)
        return clean


def parse_tagged_text(
    text: str, allowed_emotions: Iterable[str], allowed_motions: Iterable[str]
) -> ParsedReply:
    """Parse a whole (non-streamed) reply."""
    stream = TagStream(TagVocabulary.build(allowed_emotions, allowed_motions))
    clean = stream.push(text) + stream.finish()
    return ParsedReply(
        text=tidy_spaces(clean),
        emotion=stream.dominant_emotion(),
        emotions=stream.emotions,
        motions=stream.motions,
    )
