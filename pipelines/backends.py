"""The seams every model backend plugs into: adding a backend is one module plus a setting.

Backends live in ``workers`` (they import model runtimes); the pipeline only knows these protocols.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from pipelines.audio_types import SynthesizedSpeech
from schemas.persona import Persona
from schemas.transcription import Transcript

WhisperTask = Literal["transcribe", "translate"]


class SpeechToText(Protocol):
    name: str

    def transcribe(
        self,
        samples: np.ndarray,
        *,
        language: str | None = None,
        word_timestamps: bool = True,
        task: WhisperTask = "transcribe",
        prompt: str | None = None,
        temperature: float | None = None,
    ) -> Transcript:
        """Transcribe 16 kHz mono float32 samples.

        ``task="translate"`` renders the speech in English (multilingual models only); ``prompt``
        is Whisper's initial prompt (spellings, style); ``temperature`` None or 0 keeps Whisper's
        own fallback schedule, a positive value samples at that temperature only.
        """
        ...


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


class ChatModel(Protocol):
    name: str

    def stream_chat(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        seed: int | None = None,
        model: str | None = None,
    ) -> Iterator[str]:
        """Yield text deltas of the assistant reply; raise StageError on failure."""
        ...

    def count_tokens(self, text: str) -> int:
        """Token count used to trim the context to a budget."""
        ...


class SpeechSynthesizer(Protocol):
    name: str

    def synthesize(self, text: str, *, persona: Persona, emotion: str) -> SynthesizedSpeech:
        """Speak one segment in the persona's voice with the given emotion."""
        ...


@runtime_checkable
class StreamingSpeechSynthesizer(SpeechSynthesizer, Protocol):
    """A synthesizer whose audio can arrive in parts (GPT-SoVITS streaming)."""

    @property
    def streaming(self) -> bool:
        """Whether it is set to stream: only then is ``stream`` worth calling."""
        ...

    def stream(
        self, text: str, *, persona: Persona, emotion: str, on_chunk: Callable[[np.ndarray, int], None]
    ) -> SynthesizedSpeech:
        """Like ``synthesize``, calling ``on_chunk(samples, sample_rate)`` as audio arrives."""
        ...


class TextEmbedder(Protocol):
    name: str
    dimensions: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit-length float32 vector per text (rows), so a dot product is the cosine."""
        ...
