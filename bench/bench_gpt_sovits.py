"""GPT-SoVITS time to first audio, streaming off and on, against the fake server's timing model.

    python -m bench.bench_gpt_sovits [--rounds 3]

No GPT-SoVITS server runs here (no registry ships its weights), so the numbers come from the fake
(tests/fakes/gpt_sovits_fake.py), which answers after ``setup_s`` plus ``rtf`` seconds per second
of audio, per chunk when streaming: what is measured is our client (HTTP, WAV stream parsing,
silence check) on top of that model. Profiles: a GPU server at the real-time factors GPT-SoVITS
publishes (0.014 on an RTX 4090, 0.028 on a 4060 Ti; setup_s is a guess for the reference and
BERT features), and a CPU server at about real time.

What a real server changes: token streaming (modes 2 and 3) decodes with the naive T2S loop instead
of the batched one and re-decodes overlapping tokens, so its total time is longer than the model's
even where the first chunk comes sooner; v3/v4 cannot stream tokens and fall back to one chunk per
sentence.

Columns: ``first chunk`` is the first PCM the client reads; ``start`` is when the tts stage can
store and announce a reply's first ``FIRST_AUDIO_MIN_S`` (pipelines/first_audio.py,
``segment.audio_started``; its GridFS upload and event add a few ms, not counted here), which is
the time to first audio with streaming on; ``whole`` is when ``segment.audio_ready`` can go out
(the time to first audio with streaming off). ``pause`` is how long a listener who plays the start
at once waits for the rest: ``whole - (start + its duration)``, 0 when the rest comes in time.
"""

import argparse
import statistics
import time

import numpy as np

from pipelines.first_audio import FIRST_AUDIO_MIN_S
from pipelines.settings import Settings
from schemas.persona import GptSovitsVoice, Persona, VoiceSettings
from tests.fakes.gpt_sovits_fake import FakeGptSovits
from workers.tts.gpt_sovits import GptSovitsSynthesizer

REF = "/srv/gpt-sovits/refs/bench/neutral.wav"
PERSONA = Persona(
    id="bench",
    name="Bench",
    system_prompt="-",
    voice=VoiceSettings(gpt_sovits=GptSovitsVoice(ref_audio_path=REF, prompt_text="Hello, this is a test.")),
)
SEGMENTS = {
    "one sentence": "Today we are going to try a brand new puzzle game that a viewer recommended.",
    "three sentences": "Oh, that's a good question! I think I'd pick the blue one. What about you, chat?",
}
PROFILES = {  # name: (setup_s, rtf)
    "GPU, RTF 0.014": (0.10, 0.014),
    "GPU, RTF 0.028": (0.10, 0.028),
    "CPU, RTF 1.0": (0.50, 1.0),
}
MODES = {0: "off", 1: "per sentence", 2: "token chunks", 3: "fixed chunks"}


def timings(tts: GptSovitsSynthesizer, text: str, mode: int) -> tuple[float, float, float, float]:
    """Seconds to the first chunk, to the start the stage announces, to the whole; the pause."""
    started = time.perf_counter()
    first: list[float] = []
    start: list[tuple[float, float]] = []  # (when, its duration)
    received = [0]

    def on_chunk(samples: np.ndarray, rate: int) -> None:
        now = time.perf_counter() - started
        if not first and len(samples):
            first.append(now)
        received[0] += len(samples)
        if not start and received[0] >= FIRST_AUDIO_MIN_S * rate:
            start.append((now, received[0] / rate))

    if mode == 0:
        tts.synthesize(text, persona=PERSONA, emotion="neutral")
        total = time.perf_counter() - started
        return total, total, total, 0.0
    tts.stream(text, persona=PERSONA, emotion="neutral", on_chunk=on_chunk)
    total = time.perf_counter() - started
    at, duration = start[0] if start else (total, 0.0)
    return first[0], at, total, max(0.0, total - (at + duration))


def main() -> None:
    parser = argparse.ArgumentParser(description="GPT-SoVITS time to first audio, streaming on and off")
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    print("GPT-SoVITS client against the fake's timing model (median of rounds)")
    print(
        f"{'server':<16} {'segment':<16} {'streaming':<14} {'first chunk':>11} {'start':>8} {'whole':>8}"
        f" {'pause':>7}"
    )
    for profile, (setup_s, rtf) in PROFILES.items():
        with FakeGptSovits(ref_clips={REF: 5.0}, setup_s=setup_s, rtf=rtf) as fake:
            for segment, text in SEGMENTS.items():
                for mode, label in MODES.items():
                    settings = Settings().model_copy(
                        update={
                            "gpt_sovits_url": fake.url,
                            "gpt_sovits_slots": 0,
                            "gpt_sovits_streaming_mode": mode,
                        }
                    )
                    tts = GptSovitsSynthesizer(settings)
                    runs = [timings(tts, text, mode) for _ in range(rounds)]
                    first, start, whole, pause = (statistics.median(r[i] for r in runs) for i in range(4))
                    print(f"{profile:<16} {segment:<16} {label:<14}", end=" ")
                    print(f"{first:>10.3f}s {start:>7.3f}s {whole:>7.3f}s {pause:>6.2f}s")
    print(
        "A real GPU server at RTF 0.014-0.028 voices a 5 s sentence in about 0.07-0.14 s plus its setup,"
        " so streaming saves at most that much per segment there (and its token streaming decodes slower"
        " than the batched loop); on a CPU server the start comes seconds sooner, then a pause."
    )


if __name__ == "__main__":
    main()
