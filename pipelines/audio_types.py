"""Plain data passed between a model backend and the pipeline stage that calls it."""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PhonemeTiming:
    """One phoneme (IPA, or a marker such as ' ' or '.') with its time span in seconds."""

    phoneme: str
    start_s: float
    end_s: float


@dataclass
class SynthesizedSpeech:
    """Mono float32 samples in [-1, 1], and phoneme timings when the engine provides them."""

    samples: np.ndarray
    sample_rate: int
    phonemes: list[PhonemeTiming] | None = None
    # Phonemes of the text without timings, for engines that give none (animation spreads them).
    text_phonemes: list[str] | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return float(len(self.samples)) / float(self.sample_rate)
