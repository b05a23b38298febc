"""Phoneme timings for engines that give none (GPT-SoVITS): the text's phonemes aligned to the audio.

The RMS envelope finds the voiced regions; each phrase of the text (split at punctuation) goes to a
group of regions split at the longest pauses. Within a phrase, a Viterbi alignment places each
phoneme where the loudness fits its class (vowels loud, stops and word gaps quiet), with the
class's typical length; both measured on Piper alignments. Everything else is a pause, so silence
always closes the mouth.
"""

import math
from itertools import pairwise

import numpy as np

from pipelines.animation.visemes import LENGTH_MARKS, PAUSE, STRESS_MARKS, WORD_BREAK, phoneme_viseme
from pipelines.audio_types import PhonemeTiming

HOP_S = 0.01
FLOOR_DB = -60.0
SILENCE_BELOW_PEAK_DB = 32.0  # quieter than this (relative to the loud parts) is silence
BRIDGE_GAP_S = 0.08  # shorter silences are stop closures inside a phrase, not pauses
MIN_REGION_S = 0.04  # shorter voiced blips are clicks or noise
PUNCTUATION = frozenset(".,!?;:")
# Per class: loudness below the loud parts (mean dB, sd dB) and mean length in 10 ms frames.
CLASS_MODEL = {
    "vowel": (-10.0, 10.0, 4.6), "stress": (-3.6, 4.7, 5.5), "length": (-20.6, 17.5, 4.0),
    "space": (-29.0, 21.0, 5.1), "sonorant": (-12.4, 10.6, 4.7), "fricative": (-18.2, 11.6, 4.6),
    "stop": (-30.3, 17.4, 4.6),
}  # fmt: skip
_SONORANTS = frozenset("mnŋɲlɫɹrɻɾɚɝwjʋ")
_STOPS = frozenset("pbtdkɡgʔcɟq")
_VOWEL_VISEMES = frozenset({"aa", "E", "ih", "oh", "ou"})
Piece = tuple[str, tuple[int, int], float, float]  # phoneme, (phrase, position), start s, end s


def loudness(samples: np.ndarray, hop: int) -> np.ndarray:
    """Frame levels in dB relative to the loud parts (95th percentile), floored."""
    frames = len(samples) // hop
    power = np.square(samples[: frames * hop].astype(np.float64)).reshape(frames, hop).mean(axis=1)
    level = 10 * np.log10(power + 1e-12)
    peak = float(np.percentile(level, 95)) if frames else 0.0
    return np.maximum(level - peak, FLOOR_DB) if peak > FLOOR_DB else np.full(frames, FLOOR_DB)


def voiced_regions(level: np.ndarray, frame_s: float) -> list[tuple[int, int]]:
    """Frame spans louder than the silence threshold, short gaps bridged and blips dropped."""
    voiced = np.concatenate([[0], (level > -SILENCE_BELOW_PEAK_DB).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(voiced))
    regions: list[tuple[int, int]] = []
    for start, end in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if regions and (start - regions[-1][1]) * frame_s < BRIDGE_GAP_S:
            regions[-1] = (regions[-1][0], end)
        else:
            regions.append((start, end))
    return [(s, e) for s, e in regions if (e - s) * frame_s >= MIN_REGION_S]


def estimate_timings(samples: np.ndarray, sample_rate: int, text_phonemes: list[str]) -> list[PhonemeTiming]:
    """Contiguous timings covering the audio: pauses (``_``) outside speech, phonemes inside."""
    hop = max(1, round(sample_rate * HOP_S))
    frame_s, duration = hop / sample_rate, len(samples) / sample_rate
    level = loudness(samples, hop)
    regions = voiced_regions(level, frame_s)
    phrases = _phrases(text_phonemes) or [["ə"]]
    if len(regions) < len(phrases):
        phrases = [[p for phrase in phrases for p in phrase]]
    pieces: list[Piece] = []
    groups = _group_regions(regions, len(phrases))
    for number, (phrase, group) in enumerate(zip(phrases, groups, strict=True)):
        if not group:
            continue
        frames = np.concatenate([np.arange(s, e) for s, e in group])
        reps = math.ceil(len(phrase) / len(frames))  # fast speech: split frames so each phoneme gets one
        starts = (np.repeat(frames, reps) + np.tile(np.arange(reps), len(frames)) / reps) * frame_s
        states = _align(phrase, np.repeat(level[frames], reps), reps)
        step = frame_s / reps
        pieces += [
            (phrase[i], (number, i), t, t + step) for i, t in zip(states, starts.tolist(), strict=True)
        ]
    return _contiguous(pieces, duration)


def _contiguous(pieces: list[Piece], duration: float) -> list[PhonemeTiming]:
    """Join consecutive frames of one phoneme; pauses fill the gaps and both ends."""
    timings: list[PhonemeTiming] = []
    cursor, previous = 0.0, None
    for phoneme, key, start, end in pieces:
        if key == previous and abs(start - cursor) < 1e-9:
            timings[-1] = PhonemeTiming(phoneme, timings[-1].start_s, end)
        else:
            if start > cursor + 1e-9:
                timings.append(PhonemeTiming(PAUSE, cursor, start))
            timings.append(PhonemeTiming(phoneme, start, end))
        cursor, previous = end, key
    if cursor < duration:
        timings.append(PhonemeTiming(PAUSE, cursor, duration))
    return timings


def _phrases(text_phonemes: list[str]) -> list[list[str]]:
    """Phonemes split at punctuation; word breaks at phrase edges dropped (they are the pause)."""
    phrases: list[list[str]] = [[]]
    for phoneme in text_phonemes:
        if phoneme in PUNCTUATION:
            phrases.append([])
        elif phoneme != WORD_BREAK or phrases[-1]:
            phrases[-1].append(phoneme)
    for phrase in phrases:
        while phrase and phrase[-1] == WORD_BREAK:
            phrase.pop()
    return [phrase for phrase in phrases if phrase]


def _group_regions(regions: list[tuple[int, int]], groups: int) -> list[list[tuple[int, int]]]:
    """Split the regions (at least ``groups`` of them) into ``groups`` runs at the longest pauses."""
    if groups <= 1:
        return [regions]
    pauses = [regions[i + 1][0] - regions[i][1] for i in range(len(regions) - 1)]
    cuts = sorted((np.argsort(pauses, kind="stable")[::-1][: groups - 1] + 1).tolist())
    bounds = [0, *cuts, len(regions)]
    return [regions[a:b] for a, b in pairwise(bounds)]


def _phoneme_class(phoneme: str) -> str:
    if phoneme in STRESS_MARKS:
        return "stress"
    if phoneme == WORD_BREAK:
        return "space"
    if phoneme in LENGTH_MARKS or phoneme_viseme(phoneme) is None:
        return "length"
    if phoneme[:1] in _SONORANTS:
        return "sonorant"
    if phoneme[:1] in _STOPS:
        return "stop"
    return "vowel" if phoneme_viseme(phoneme) in _VOWEL_VISEMES else "fricative"


def _align(phrase: list[str], level: np.ndarray, reps: int) -> list[int]:
    """Viterbi: the phoneme index of each frame (left to right, each phoneme at least one frame)."""
    mean, sd, frames = np.array([CLASS_MODEL[_phoneme_class(p)] for p in phrase]).T
    frames = frames * reps
    fit = -0.5 * ((level[:, None] - mean) / sd) ** 2 - np.log(sd)
    stay, advance = np.log(1 - 1 / frames), np.log(1 / frames)
    score = np.full(len(phrase), -np.inf)
    score[0] = fit[0, 0]
    moved = np.zeros(fit.shape, dtype=bool)
    for t in range(1, len(level)):
        came = np.concatenate([[-np.inf], score[:-1] + advance[:-1]])
        moved[t] = came > score + stay
        score = np.maximum(score + stay, came) + fit[t]
    states = np.empty(len(level), dtype=int)
    state = len(phrase) - 1  # the alignment must end on the last phoneme
    for t in range(len(level) - 1, -1, -1):
        states[t] = state
        state -= int(moved[t, state])
    return states.tolist()
