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
sentence. The tts stage stores a segment's audio whole, so a first chunk only reaches a listener
once the stage can announce partial audio; until then this measures what streaming could give.
"""

import argparse
import statistics
import time

import numpy as np

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


def first_and_total(tts: GptSovitsSynthesizer, text: str, mode: int) -> tuple[float, float, float]:
    """Seconds to the first audio and to the whole, and the audio's duration."""
    started = time.perf_counter()
    first: list[float] = []

    def on_chunk(samples: np.ndarray, rate: int) -> None:
        if not first and len(samples):
            first.append(time.perf_counter() - started)

    if mode == 0:
        speech = tts.synthesize(text, persona=PERSONA, emotion="neutral")
        total = time.perf_counter() - started
        return total, total, speech.duration_s
    speech = tts.stream(text, persona=PERSONA, emotion="neutral", on_chunk=on_chunk)
    return first[0], time.perf_counter() - started, speech.duration_s


def main() -> None:
    parser = argparse.ArgumentParser(description="GPT-SoVITS time to first audio, streaming on and off")
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    print("GPT-SoVITS client against the fake's timing model (median of rounds)")
    print(f"{'server':<16} {'segment':<16} {'streaming':<14} {'first audio':>11} {'whole':>8} {'audio':>7}")
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
                    runs = [first_and_total(tts, text, mode) for _ in range(rounds)]
                    first = statistics.median(r[0] for r in runs)
                    whole = statistics.median(r[1] for r in runs)
                    audio = runs[0][2]
                    print(f"{profile:<16} {segment:<16} {label:<14}", end=" ")
                    print(f"{first:>10.3f}s {whole:>7.3f}s {audio:>6.2f}s")
    print(
        "A real GPU server at RTF 0.014-0.028 voices a 5 s sentence in about 0.07-0.14 s plus its setup,"
        " so streaming saves at most that much per segment there; on a CPU server it saves seconds."
    )


if __name__ == "__main__":
    main()
