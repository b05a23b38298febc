"""Where speech starts and ends in a live stream, from one voice-activity probability per window.

Silero's own whole-file segmentation, made incremental: speech starts at the first window at or above
``threshold``; it ends once the probability has stayed below ``threshold - 0.15`` for
``end_silence_ms``. Windows in between (hesitations) keep the speech going. A region with less than
``min_speech_ms`` of windows above the threshold is a blip (a click, a breath), not an utterance.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

SAMPLE_RATE = 16_000


class VoiceActivity(Protocol):
    window: int

    def probability(self, window: np.ndarray) -> float:
        """The speech probability of the next ``window`` samples of the stream."""
        ...


class Edge(StrEnum):
    started = "started"
    ended = "ended"


@dataclass
class Endpointer:
    window: int
    end_silence_ms: int = 600
    min_speech_ms: int = 250
    threshold: float = 0.5
    in_speech: bool = False
    speech_windows: int = 0  # windows at or above the threshold in the current region
    _silent_run: int = field(default=0, repr=False)

    @property
    def neg_threshold(self) -> float:
        return max(self.threshold - 0.15, 0.01)

    def _windows(self, ms: int) -> int:
        return max(1, round(ms * SAMPLE_RATE / 1000 / self.window))

    def push(self, probability: float) -> Edge | None:
        """Judge the next window; the edge it makes, if any."""
        if not self.in_speech:
            if probability >= self.threshold:
                self.in_speech, self.speech_windows, self._silent_run = True, 1, 0
                return Edge.started
            return None
        if probability >= self.threshold:
            self.speech_windows += 1
            self._silent_run = 0
        elif probability < self.neg_threshold:
            self._silent_run += 1
            if self._silent_run >= self._windows(self.end_silence_ms):
                self.in_speech = False
                return Edge.ended
        else:
            self._silent_run = 0  # between the thresholds: still speaking, softly
        return None

    def restart(self) -> None:
        """A region was cut (too long): the speech goes on as a new region."""
        self.speech_windows, self._silent_run = 0, 0

    @property
    def enough_speech(self) -> bool:
        return self.speech_windows >= self._windows(self.min_speech_ms)
