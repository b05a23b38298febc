"""Piper real-time factor and animation build time per second of audio.

    python -m bench.bench_tts_animation [--rounds 3]

RTF = synthesis time / audio duration (below 1 is faster than real time). The first call pays for
loading the voice and warming onnxruntime, so it is reported on its own and left out of the RTF.
"""

import argparse
import statistics
import time

from pipelines.animation import build_animation_track
from pipelines.settings import get_settings
from schemas.persona import Persona
from workers.animation_phonemes import text_phonemes
from workers.tts.piper_backend import PiperSynthesizer

SENTENCES = [
    ("Hello everyone, and welcome back to the stream!", "happy"),
    ("Today we are going to try a brand new puzzle game that a viewer recommended.", "neutral"),
    ("I really thought I had it that time. Oh well, let's try again.", "sad"),
    ("Wait, did that just happen? That was incredible!", "surprised"),
    ("Let's take it slow and enjoy the music for a minute.", "relaxed"),
    ("No, no, no, that is not fair at all.", "angry"),
]
PERSONA = Persona(id="bench", name="Bench", system_prompt="-")


def main() -> None:
    parser = argparse.ArgumentParser(description="Piper TTS and animation benchmark")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the sentences")
    rounds = parser.parse_args().rounds
    piper = PiperSynthesizer(get_settings())

    started = time.perf_counter()
    first = piper.synthesize("Warming up.", persona=PERSONA, emotion="neutral")
    first_s = time.perf_counter() - started
    print(f"first call (voice load + warm-up): {first_s:.3f} s for {first.duration_s:.2f} s of audio")

    synth_s = audio_s = 0.0
    speeches = []
    for _ in range(rounds):
        for text, emotion in SENTENCES:
            started = time.perf_counter()
            speech = piper.synthesize(text, persona=PERSONA, emotion=emotion)
            synth_s += time.perf_counter() - started
            audio_s += speech.duration_s
            speeches.append((text, emotion, speech))
    print(f"piper: {len(speeches)} sentences, {audio_s:.1f} s of audio, RTF {synth_s / audio_s:.4f}")

    for source in ("alignment", "energy"):
        build_s = phonemize_s = 0.0
        for text, emotion, speech in speeches:
            started = time.perf_counter()
            phonemes = text_phonemes(text) if source == "energy" else None
            phonemize_s += time.perf_counter() - started
            started = time.perf_counter()
            build_animation_track(
                samples=speech.samples,
                sample_rate=speech.sample_rate,
                phonemes=speech.phonemes if source == "alignment" else None,
                text_phonemes=phonemes,
                emotion=emotion,
                motions=["wave"],
            )
            build_s += time.perf_counter() - started
        line = f"animation ({source}): {1000 * build_s / audio_s:.2f} ms per second of audio"
        if source == "energy":
            line += f" (+ phonemizing the text: {1000 * phonemize_s / audio_s:.2f} ms)"
        print(line)
    per_sentence = statistics.median(s.duration_s for _, _, s in speeches)
    print(f"median sentence length {per_sentence:.2f} s")


if __name__ == "__main__":
    main()
