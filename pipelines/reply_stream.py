"""Turn a streamed, tagged LLM reply into speakable segments that each carry an emotion and motions.

This is the one object the LLM stage needs: feed it the model's deltas, dispatch every returned
segment to tts -> animation at once, then record ``dominant_emotion`` (``full_text`` and ``motions``
cover the whole reply, including any text after a sentence limit cut it short). Segments carry
only what a voice may read (pipelines/speech_text.py); one with nothing left to say is dropped and
its motions go to the next.
"""

from pipelines.emotion_tags import TagStream, TagVocabulary
from pipelines.segmenter import SegmentSpan, SpeakableSegmenter, tidy_spaces
from pipelines.speech_text import speakable
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
        return self._speakable(spans, closing=False)

    def finish(self) -> list[TaggedSegment]:
        spans = self._segmenter.push_spans(self._tags.finish()) + self._segmenter.finish_spans()
        segments = self._speakable(spans, closing=True)
        left = self._tags.take_motions(None)  # motions of a last piece with nothing to say
        if segments and left:
            segments[-1] = segments[-1].model_copy(update={"motions": [*segments[-1].motions, *left]})
        return segments

    def _speakable(self, spans: list[SegmentSpan], *, closing: bool) -> list[TaggedSegment]:
        segments = []
        for position, span in enumerate(spans):
            text = tidy_spaces(speakable(span.text))
            if text:
                last = closing and position == len(spans) - 1
                segments.append(self._tagged(span, text, last=last))
        return segments

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

    def _tagged(self, span: SegmentSpan, text: str, *, last: bool) -> TaggedSegment:
        return TaggedSegment(
            text=text,
            emotion=self._tags.emotion_at(span.start),
            motions=self._tags.take_motions(None if last else span.end),
        )
