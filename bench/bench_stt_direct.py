"""Real-time factor of each speech-to-text backend, calling the model directly in this process.

The baseline the through-the-pipeline numbers are compared with: no queue, no storage, no decode.
Clips are Piper speech with known text: short live-style utterances (~3 s) and long recordings
(~25 s, several sentences with pauses). Loading and one warm-up call are excluded.

    .venv/bin/python -m bench.bench_stt_direct [--backend faster_whisper:bundled:tiny.en ...]
"""

import time
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import typer

from pipelines.audio_codec import decode_to_16k_mono, encode_audio
from pipelines.backends import SpeechToText
from pipelines.settings import get_settings
from workers.assets import piper_voice_file

SENTENCES = [
    "The weather is lovely today, so let us go for a walk in the park.",
    "Please remember to buy milk, eggs and bread on your way home.",
    "My favorite game is chess because every match feels different.",
    "Can you tell me a funny story about a cat and a dog?",
    "Thank you for watching the stream, see you again next week.",
    "She opened the window and listened to the birds singing outside.",
    "I think the new episode was even better than the last one.",
    "Could you please explain how the weekly schedule is going to work?",
]
DEFAULT_BACKENDS = [
    "faster_whisper:bundled:tiny.en",
    "faster_whisper:bundled:base",
    "openai_whisper:bundled:tiny.en",
    "openai_whisper:bundled:base",
]


@dataclass(frozen=True)
class Clip:
    kind: str  # "short" | "long"
    samples: np.ndarray

    @property
    def seconds(self) -> float:
        return self.samples.size / 16000


@dataclass(frozen=True)
class Measurement:
    backend: str
    model: str
    kind: str
    clips: int
    audio_s: float
    wall_s: float

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s


def make_clips(short: int = 6, long: int = 2) -> list[Clip]:
    """Piper speech at 16 kHz; long clips join all sentences with half-second pauses."""
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    voice = PiperVoice.load(str(piper_voice_file("bundled:joe")))
    # Without sampling noise Piper says a sentence the same way every run: reproducible numbers.
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    def speak(text: str) -> np.ndarray:
        chunks = list(voice.synthesize(text, syn_config=steady))
        audio = np.concatenate([c.audio_float_array for c in chunks])
        return decode_to_16k_mono(encode_audio(audio, chunks[0].sample_rate, "wav"))

    spoken = [speak(text) for text in SENTENCES]
    pause = np.zeros(8000, dtype=np.float32)
    clips = [Clip("short", spoken[i % len(spoken)]) for i in range(short)]
    for i in range(long):
        order = spoken[i:] + spoken[:i]
        clips.append(Clip("long", np.concatenate([part for s in order for part in (s, pause)])))
    return clips


def make_backend(spec: str) -> SpeechToText:
    """``faster_whisper:<model>`` or ``openai_whisper:<model>`` with the process settings."""
    kind, _, model = spec.partition(":")
    settings = get_settings()
    if kind == "faster_whisper":
        from workers.stt.faster_whisper_backend import FasterWhisperSTT

        return FasterWhisperSTT(settings, model)
    if kind == "openai_whisper":
        from workers.stt.openai_whisper_backend import OpenAIWhisperSTT

        return OpenAIWhisperSTT(settings, model)
    raise typer.BadParameter(f"unknown backend {kind!r}")


def measure_direct(backend: SpeechToText, model: str, clips: list[Clip]) -> list[Measurement]:
    backend.transcribe(clips[0].samples)  # warm-up: loads the model, allocates buffers
    results = []
    for kind in sorted({c.kind for c in clips}, reverse=True):
        chosen = [c for c in clips if c.kind == kind]
        start = time.perf_counter()
        for clip in chosen:
            backend.transcribe(clip.samples)
        wall = time.perf_counter() - start
        results.append(
            Measurement(backend.name, model, kind, len(chosen), sum(c.seconds for c in chosen), wall)
        )
    return results


def main(
    backend: Annotated[list[str] | None, typer.Option(help="backend:model, repeatable")] = None,
    short: int = 6,
    long: int = 2,
) -> None:
    clips = make_clips(short, long)
    print(f"{'backend':<16}{'model':<18}{'clips':<7}{'audio s':>9}{'wall s':>9}{'RTF':>8}{'s/clip':>8}")
    for spec in backend or DEFAULT_BACKENDS:
        model = spec.partition(":")[2]
        for m in measure_direct(make_backend(spec), model, clips):
            print(
                f"{m.backend:<16}{m.model:<18}{m.kind:<7}{m.audio_s:>9.1f}{m.wall_s:>9.2f}"
                f"{m.rtf:>8.3f}{m.wall_s / m.clips:>8.2f}"
            )


if __name__ == "__main__":
    typer.run(main)
