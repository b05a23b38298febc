"""Piper, the offline default voice: speech plus the phoneme timings that drive the lip sync.

Piper has no emotion control, so emotion becomes prosody: speaking rate (length_scale), how lively
the voice and rhythm vary (noise_scale, noise_w_scale) and the pause between sentences.
"""

import contextlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from piper import PiperVoice, SynthesisConfig

from pipelines.animation.expressions import normalize_emotion
from pipelines.animation.visemes import PAUSE
from pipelines.audio_types import PhonemeTiming, SynthesizedSpeech
from pipelines.errors import StageError
from pipelines.metrics import MODEL_LOAD_SECONDS
from pipelines.settings import Settings
from schemas.animation import Emotion
from schemas.errors import ErrorCode
from schemas.persona import Persona
from workers.animation_phonemes import join_sentences, text_phonemes
from workers.assets import piper_voice_file
from workers.device import onnxruntime_providers

__all__ = ["EMOTION_PROSODY", "PiperSynthesizer", "text_phonemes"]  # text_phonemes: engines without timings


@dataclass(frozen=True)
class Prosody:
    """Multipliers on the voice's own settings."""

    length: float = 1.0  # < 1 speaks faster
    noise: float = 1.0  # > 1 livelier voice
    noise_w: float = 1.0  # > 1 livelier rhythm
    pause: float = 1.0  # sentence silence


EMOTION_PROSODY: dict[Emotion, Prosody] = {
    Emotion.neutral: Prosody(),
    Emotion.happy: Prosody(length=0.92, noise=1.1, noise_w=1.15, pause=0.85),
    Emotion.surprised: Prosody(length=0.9, noise=1.15, noise_w=1.2, pause=0.8),
    Emotion.angry: Prosody(length=0.9, noise=1.05, pause=0.7),
    Emotion.sad: Prosody(length=1.18, noise=0.85, noise_w=0.8, pause=1.5),
    Emotion.relaxed: Prosody(length=1.08, noise=0.95, noise_w=0.9, pause=1.25),
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
            except SoftTimeLimitExceeded:
                raise  # the task layer reports it as stage_timeout
            except Exception as exc:  # onnxruntime/espeak errors carry no stable types
                raise StageError(ErrorCode.tts_failed, f"Piper synthesis failed: {exc}") from exc
        if not chunks:
            raise StageError(ErrorCode.tts_bad_request, "nothing to speak: the text has no speakable words")
        rate = voice.config.sample_rate
        gap = round(persona.voice.piper.sentence_silence_s * prosody.pause * rate)
        pieces: list[np.ndarray] = []
        counts: list[tuple[str, int]] = []  # (phoneme, samples) end to end
        aligned = True
        for index, chunk in enumerate(chunks):  # one chunk per sentence
            if index and gap:
                pieces.append(np.zeros(gap, np.float32))
                counts.append((PAUSE, gap))
            audio = chunk.audio_float_array.astype(np.float32)
            pieces.append(audio)
            chunk_counts = [(a.phoneme, int(a.num_samples)) for a in chunk.phoneme_alignments or []]
            # Timings that do not add up to the audio would drift out of sync; without them the
            # animation stage falls back to the energy method.
            aligned = aligned and sum(n for _, n in chunk_counts) == len(audio)
            counts += chunk_counts
        return SynthesizedSpeech(
            samples=np.concatenate(pieces),
            sample_rate=rate,
            phonemes=_timings(counts, rate) if aligned else None,
            text_phonemes=join_sentences([chunk.phonemes for chunk in chunks]),
            extra={"engine": self.name, "voice": spec, "emotion_prosody": normalize_emotion(emotion)},
        )

    def _voice(self, spec: str) -> PiperVoice:
        if spec not in self._voices:
            try:
                path = piper_voice_file(spec)
                with MODEL_LOAD_SECONDS.labels("tts", self.name).time():
                    self._voices[spec] = load_voice(path, onnxruntime_providers(self._settings.tts_device))
            except Exception as exc:  # missing file, bad config, corrupt model: all a setup problem
                raise StageError(ErrorCode.tts_failed, f"cannot load Piper voice {spec!r}: {exc}") from exc
        return self._voices[spec]


def load_voice(path: Path, providers: list[str] | None = None) -> PiperVoice:
    """The voice as ``PiperVoice.load(path, include_alignments=True)`` builds it, except that
    onnxruntime's threads sleep between runs instead of spinning, on ``providers`` (the CPU unless
    told otherwise; the GPU TTS image has onnxruntime-gpu).

    Spinning threads keep a core busy for a while after every sentence; beside llama.cpp, MongoDB
    and the workers on two cores that took the CPU the next steps of the first audio need.
    """
    import onnx
    import onnxruntime
    from piper.config import PiperConfig
    from piper.patch_voice_with_alignment import add_alignment_output

    model = onnx.load(str(path))
    with contextlib.suppress(ValueError):  # already patched: the alignment output exists
        add_alignment_output(model)
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    config = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), sess_options=options, providers=providers or ["CPUExecutionProvider"]
    )
    return PiperVoice(session=session, config=PiperConfig.from_dict(config))


def _timings(counts: list[tuple[str, int]], rate: int) -> list[PhonemeTiming]:
    """Contiguous timings from per-phoneme sample counts (exact: no rounding drift)."""
    ends = np.cumsum([n for _, n in counts])
    starts = ends - [n for _, n in counts]
    return [
        PhonemeTiming(phoneme, float(start) / rate, float(end) / rate)
        for (phoneme, _), start, end in zip(counts, starts, ends, strict=True)
    ]
