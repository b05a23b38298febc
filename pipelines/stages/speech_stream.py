"""Speak a text for the OpenAI-compatible speech route, sentence by sentence, encoding as it goes.

The text is split into sentences (the reply segmenter) and each is synthesized and encoded at
once, so the listener hears the first sentence while the next is being made. Any backend of the
SpeechSynthesizer seam works (Piper, GPT-SoVITS): it gives samples, the encoder does the rest.
"""

from pipelines.backends import SpeechSynthesizer
from pipelines.personas import get_persona
from pipelines.segmenter import SpeakableSegmenter
from pipelines.speech_encoder import StreamingEncoder
from pipelines.speech_stream import SpeechPublisher
from schemas.openai_audio import SpeechRequest


def sentences(text: str) -> list[str]:
    segmenter = SpeakableSegmenter(max_chars=400, first_clause_min_chars=None)
    return [part for part in [*segmenter.push(text), *segmenter.finish()] if part.strip()]


def stream_speech(synthesizer: SpeechSynthesizer, publisher: SpeechPublisher, request: SpeechRequest) -> None:
    """Publish the encoded speech, then its end. Errors propagate (the task publishes them)."""
    persona = get_persona(request.persona)
    encoder: StreamingEncoder | None = None
    try:
        parts = sentences(request.text) or [request.text]
        for index, sentence in enumerate(parts):
            if encoder is not None and publisher.cancel_requested():
                encoder.abort()
                encoder = None
                publisher.stopped(len(parts) - index)
                return
            speech = synthesizer.synthesize(sentence, persona=persona, emotion="neutral")
            if encoder is None:
                encoder = StreamingEncoder(
                    request.response_format,
                    speech.sample_rate,
                    speed=request.speed,
                    on_bytes=publisher.audio,
                )
            encoder.write(speech.samples)
        if encoder is not None:
            encoder.close()
            encoder = None
        publisher.end()
    finally:
        if encoder is not None:
            encoder.abort()
