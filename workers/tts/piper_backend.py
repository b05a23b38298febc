"""Piper, the offline default voice: speech plus the phoneme timings that drive the lip sync.

Piper has no emotion control, so emotion becomes prosody: speaking rate (length_scale), how lively
the voice and rhythm vary (noise_scale, noise_w_scale) and the pause between sentences.
"""

import threading
from dataclasses import dataclass

import numpy as np
from piper import PiperVoice, SynthesisConfig

from pipelines.animation.expressions import normalize_emotion
from pipelines.animation.visemes import PAUSE
from pipelines.audio_types import PhonemeTiming, SynthesizedSpeech
from pipelines.errors import StageError
from pipelines.settings import Settings
from schemas.animation import Emotion
from schemas.errors import ErrorCode
from schemas.persona import Persona
from workers.assets import AssetError, piper_voice_file


@dataclass(frozen=True)
class Prosody:
    """Multipliers on the voice's own settings."""

    length: float = 1.0  # < 1 speaks faster
    noise: float = 1.0  # > 1 livelier voice
    noise_w: float = 1.0  # > 1 livelier rhythm
    pause: float = 1.0  # sentence silence


EMOTION_PROSODY: dict[Emotion, Prosody] = {
    "neutral": Prosody(),
    "happy": Prosody(length=0.92, noise=1.1, noise_w=1.15, pause=0.85),
    "surprised": Prosody(length=0.9, noise=1.15, noise_w=1.2, pause=0.8),
    "angry": Prosody(length=0.9, noise=1.05, pause=0.7),
    "sad": Prosody(length=1.18, noise=0.85, noise_w=0.8, pause=1.5),
    "relaxed": Prosody(length=1.08, noise=0.95, noise_w=0.9, pause=1.25),
}


class PiperSynthesizer:
    """SpeechSynthesizer over piper-tts; voices load on first use and stay loaded (one per spec)."""

    name = "piper"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._voices: dict[str, PiperVoice] = {}
        self._lock = threading.Lock()  # one ONNX session and espeak-ng state: one synthesis at a time

    def synthesize(self, text: str, *, persona: Persona, emotion: str) -> SynthesizedSpeech:
        if not text.strip():
            raise StageError(ErrorCode.tts_bad_request, "nothing to speak: the text is empty")
        spec = persona.voice.piper.voice or self._settings.piper_voice
        with self._lock:
            voice = self._voice(spec)
            prosody = EMOTION_PROSODY[normalize_emotion(emotion)]
            config = SynthesisConfig(
                length_scale=voice.config.length_scale * persona.voice.piper.length_scale * prosody.length,
                noise_scale=voice.config.noise_scale * prosody.noise,
                noise_w_scale=voice.config.noise_w_scale * prosody.noise_w,
            )
            try:
                chunks = list(voice.synthesize(text, syn_config=config, include_alignments=True))
            except Exception as exc:  # onnxruntime/espeak errors carry no stable types
                raise StageError(ErrorCode.tts_failed, f"Piper synthesis failed: {exc}") from exc
        if not chunks:
            raise StageError(ErrorCode.tts_bad_request, "nothing to speak: the text has no speakable words")
        rate = voice.config.sample_rate
        gap = np.zeros(round(persona.voice.piper.sentence_silence_s * prosody.pause * rate), np.float32)
        pieces: list[np.ndarray] = []
        timings: list[PhonemeTiming] | None = []
        text_phonemes: list[str] = []
        for index, chunk in enumerate(chunks):
            if index and gap.size:
                timings = _extend(timings, [(PAUSE, gap.size)], sum(map(len, pieces)), rate)
                pieces.append(gap)
            aligned = chunk.phoneme_alignments
            counts = [(a.phoneme, int(a.num_samples)) for a in aligned] if aligned else None
            timings = _extend(timings, counts, sum(map(len, pieces)), rate, len(chunk.audio_float_array))
            pieces.append(chunk.audio_float_array.astype(np.float32))
            text_phonemes.extend(chunk.phonemes)
        return SynthesizedSpeech(
            samples=np.concatenate(pieces),
            sample_rate=rate,
            phonemes=timings,
            text_phonemes=text_phonemes,
            extra={"engine": self.name, "voice": spec, "emotion_prosody": normalize_emotion(emotion)},
        )

    def _voice(self, spec: str) -> PiperVoice:
        if spec not in self._voices:
            try:
                path = piper_voice_file(spec)
                self._voices[spec] = PiperVoice.load(path, include_alignments=True)
            except (AssetError, OSError, ValueError) as exc:
                raise StageError(ErrorCode.tts_failed, f"cannot load Piper voice {spec!r}: {exc}") from exc
        return self._voices[spec]


def _extend(
    timings: list[PhonemeTiming] | None,
    counts: list[tuple[str, int]] | None,
    offset: int,
    rate: int,
    expected: int | None = None,
) -> list[PhonemeTiming] | None:
    """Append sample-count alignments at ``offset``; any chunk without exact alignments voids them all.

    Timings that do not add up to the audio would put the mouth out of sync; the animation stage
    then falls back to the energy method, which is better than a drifting track.
    """
    if timings is None or counts is None or (expected is not None and sum(n for _, n in counts) != expected):
        return None
    for phoneme, count in counts:
        timings.append(PhonemeTiming(phoneme, offset / rate, (offset + count) / rate))
        offset += count
    return timings
