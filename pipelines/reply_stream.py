"""Turn a streamed, tagged LLM reply into speakable segments that each carry an emotion and motions.

This is the one object the LLM stage needs: feed it the model's deltas, dispatch every returned
segment to tts -> animation at once, then record ``dominant_emotion`` (``full_text`` and ``motions``
cover the whole reply, including any text after a sentence limit cut it short).
"""

from pipelines.emotion_tags import TagStream, TagVocabulary
from pipelines.segmenter import SegmentSpan, SpeakableSegmenter, tidy_spaces
from schemas.emotion import Emotion, TaggedSegment
from schemas.persona import Persona


class ReplyStreamer:
    """Tag stripping then segmenting; a segment gets the emotion in force at its first character
    and the motions that stood within it (motions after the last words go to the last segment)."""

    def __init__(self, vocabulary: TagVocabulary, segmenter: SpeakableSegmenter | None = None) -> None:
        self._tags = TagStream(vocabulary)
        self._segmenter = segmenter or SpeakableSegmenter()

    @classmethod
    def for_persona(cls, persona: Persona, segmenter: SpeakableSegmenter | None = None) -> "ReplyStreamer":
        return cls(TagVocabulary.for_persona(persona), segmenter)

    def push(self, delta: str) -> list[TaggedSegment]:
        spans = self._segmenter.push_spans(self._tags.push(delta))
        return [self._tagged(span, last=False) for span in spans]

    def finish(self) -> list[TaggedSegment]:
        spans = self._segmenter.push_spans(self._tags.finish()) + self._segmenter.finish_spans()
        return [self._tagged(span, last=i == len(spans) - 1) for i, span in enumerate(spans)]

    @property
    def full_text(self) -> str:
        """The whole spoken reply, tags removed and whitespace collapsed (for the conversation log)."""
        return tidy_spaces(self._tags.text)

    @property
    def dominant_emotion(self) -> Emotion:
        return self._tags.dominant_emotion()

    @property
    def motions(self) -> list[str]:
        return self._tags.motions

    def _tagged(self, span: SegmentSpan, *, last: bool) -> TaggedSegment:
        return TaggedSegment(
            text=span.text,
            emotion=self._tags.emotion_at(span.start),
            motions=self._tags.take_motions(None if last else span.end),
        )
