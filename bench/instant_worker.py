"""The benchmark's own worker configuration: every stage's model answers at once.

Started with ``celery -A bench.instant_worker:app worker`` by bench/bench_live_latency.py, so the
time a turn takes is the orchestration alone (queues, MongoDB, events). Also registers a bare
four-hop Celery chain over the same queues to compare against. Production settings cannot select
any of this: the backends are pinned by this module's import, and only the bench imports it.
"""

import time
from collections.abc import Iterator

import numpy as np

from bench.bare_chain import HOP_DONE_KEY, HOP_QUEUES, TWO_SEGMENTS
from pipelines.audio_types import PhonemeTiming, SynthesizedSpeech
from pipelines.backends import ChatMessage
from schemas.persona import Persona
from schemas.transcription import Transcript
from workers import backends
from workers.runtime import app, redis_client

# One sentence, so a turn is one execution of each stage: four tasks, like the bare four-hop chain.
# A line asking for TWO_SEGMENTS gets a reply the segmenter cuts in two (a short first segment,
# then the rest): the shape of most live replies, two tts and two animation tasks.
ONE_SEGMENT_REPLY = "[happy] Nice to see you!"
TWO_SEGMENT_REPLY = "[happy] Hello there, nice to see you!"
SPEECH_S = 0.25


class InstantSTT:
    name = "instant"

    def transcribe(self, samples: np.ndarray, *, language: str | None = None, **_: object) -> Transcript:
        return Transcript(text="Hello!", language="en", duration_s=len(samples) / 16000, backend=self.name)


class InstantChat:
    name = "instant"

    def stream_chat(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        seed: int | None = None,
        model: str | None = None,
    ) -> Iterator[str]:
        asked = next((m.content for m in reversed(messages) if m.role == "user"), "")
        yield TWO_SEGMENT_REPLY if TWO_SEGMENTS in asked else ONE_SEGMENT_REPLY

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1


class InstantTTS:
    name = "instant"

    def synthesize(self, text: str, *, persona: Persona, emotion: str) -> SynthesizedSpeech:
        rate = 16000
        samples = np.zeros(int(SPEECH_S * rate), np.float32)
        return SynthesizedSpeech(
            samples=samples, sample_rate=rate, phonemes=[PhonemeTiming("a", 0.0, SPEECH_S)]
        )


backends.pin("stt", InstantSTT())
backends.pin("llm", InstantChat())
backends.pin("tts", InstantTTS())


@app.task(name="bench.hop", acks_late=True)
def hop(index: int, token: str) -> None:
    """One link of the bare chain: send the next link by name, or report the end with its time."""
    if index + 1 < len(HOP_QUEUES):
        app.send_task(
            "bench.hop", args=[index + 1, token], queue=HOP_QUEUES[index + 1].value, ignore_result=True
        )
    else:
        redis_client().rpush(f"{HOP_DONE_KEY}:{token}", repr(time.time()))


__all__ = ["app"]
