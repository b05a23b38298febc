"""IPA phonemes → Oculus visemes → VRM 1.0 mouth shapes, and phoneme timings → viseme spans.

Piper (espeak-ng) alignments carry markers besides phonemes: stress (ˈ ˌ) and length (ː) marks,
word spaces, punctuation and the sentence start/end symbols (^ $). They own audio samples too, so
each is resolved to the sound it belongs to rather than dropped: a stress mark to the next phoneme,
a length mark or modifier letter (ʲ) to the previous one, a space half to each neighbour;
punctuation, the sentence ends and our own pause marker ``_`` are silence (closed mouth).
"""

import unicodedata
from dataclasses import dataclass

from pipelines.audio_types import PhonemeTiming
from schemas.animation import MOUTH_SHAPES, MouthShape, Viseme

PAUSE = "_"  # marker for silence we insert ourselves (sentence gaps, unvoiced audio)
STRESS_MARKS = frozenset("ˈˌ")
LENGTH_MARKS = frozenset("ːˑ")
WORD_BREAK = " "

# Oculus viseme of each IPA symbol espeak-ng emits (diacritics are stripped before the lookup).
_VISEME_GROUPS: dict[Viseme, str] = {
    "PP": "pbmɱɸβʙ",
    "FF": "fvʋ",
    "TH": "θð",
    "DD": "tdɾʔʈɖɗɽ",
    "kk": "kgɡŋxhɣχɦqɢʁɴʀħʕ",
    "CH": "ʃʒçʝɕʑʂʐ",
    "SS": "sz",
    "nn": "nlɫɬɮɲɳʎʟɭɺ",
    "RR": "ɹrɻɚɝ˞",
    "aa": "aɑæʌɐɒɶä",
    "E": "ɛeəɜɘɞœø",
    "ih": "iɪᵻjyɨʏɥ",
    "oh": "ɔoɵɤ",
    "ou": "uʊwʉɯɰʍ",
}
PHONEME_VISEME: dict[str, Viseme] = {ch: vis for vis, chars in _VISEME_GROUPS.items() for ch in chars}

# Mouth pose of each viseme as VRM mouth weights; visemes not listed close the mouth.
# Consonants are partial shapes so co-articulation with the vowels around them reads naturally.
VISEME_MOUTH: dict[Viseme, dict[MouthShape, float]] = {
    "FF": {"ih": 0.2, "ee": 0.1},
    "TH": {"aa": 0.15, "ih": 0.25},
    "DD": {"aa": 0.2, "ih": 0.2},
    "kk": {"aa": 0.3, "ih": 0.1},
    "CH": {"ih": 0.2, "ou": 0.35},
    "SS": {"ih": 0.35, "ee": 0.15},
    "nn": {"aa": 0.2, "ih": 0.2},
    "RR": {"ou": 0.35, "oh": 0.15},
    "aa": {"aa": 0.9},
    "E": {"ee": 0.6, "aa": 0.2},
    "ih": {"ih": 0.75},
    "oh": {"oh": 0.8},
    "ou": {"ou": 0.8},
}
CLOSED_VISEMES: frozenset[Viseme] = frozenset({"sil", "PP"})


def mouth_pose(viseme: Viseme) -> tuple[float, ...]:
    """The VRM mouth weights of a viseme, in MOUTH_SHAPES order."""
    pose = VISEME_MOUTH.get(viseme, {})
    return tuple(pose.get(shape, 0.0) for shape in MOUTH_SHAPES)


def phoneme_viseme(phoneme: str) -> Viseme | None:
    """The viseme of a phoneme; ``None`` for markers that take their neighbours' viseme."""
    if phoneme in STRESS_MARKS or phoneme in LENGTH_MARKS or phoneme == WORD_BREAK:
        return None
    base = "".join(ch for ch in unicodedata.normalize("NFD", phoneme) if not unicodedata.combining(ch))
    if not base:
        return None  # a lone diacritic
    if base[0] in PHONEME_VISEME:
        return PHONEME_VISEME[base[0]]
    # Other letters and digits are modifiers (ʲ, ʰ, tone numbers) or rare sounds: they colour a
    # neighbour. Punctuation and symbols (^ $ _) are silence.
    return None if unicodedata.category(base[0])[0] in "LN" else "sil"


@dataclass(frozen=True)
class VisemeSpan:
    viseme: Viseme
    start_s: float
    end_s: float


def viseme_spans(timings: list[PhonemeTiming]) -> list[VisemeSpan]:
    """Contiguous viseme spans for phoneme timings; markers resolved, equal neighbours merged."""
    own = [phoneme_viseme(t.phoneme) for t in timings]
    before, after = _nearest_known(own), _nearest_known(own[::-1])[::-1]
    spans: list[VisemeSpan] = []
    for i, timing in enumerate(timings):
        if (viseme := own[i]) is not None:
            spans.append(VisemeSpan(viseme, timing.start_s, timing.end_s))
            continue
        prev, nxt = before[i] or after[i] or "sil", after[i] or before[i] or "sil"
        if timing.phoneme in STRESS_MARKS:
            spans.append(VisemeSpan(nxt, timing.start_s, timing.end_s))
        elif timing.phoneme == WORD_BREAK:  # the glide from one word into the next
            middle = (timing.start_s + timing.end_s) / 2
            spans.append(VisemeSpan(prev, timing.start_s, middle))
            spans.append(VisemeSpan(nxt, middle, timing.end_s))
        else:
            spans.append(VisemeSpan(prev, timing.start_s, timing.end_s))
    merged: list[VisemeSpan] = []
    for span in spans:
        if span.end_s <= span.start_s:
            continue
        if merged and merged[-1].viseme == span.viseme:
            merged[-1] = VisemeSpan(span.viseme, merged[-1].start_s, span.end_s)
        else:
            merged.append(span)
    return merged


def _nearest_known(visemes: list[Viseme | None]) -> list[Viseme | None]:
    """For each position, the last non-marker viseme strictly before it."""
    nearest: list[Viseme | None] = []
    last: Viseme | None = None
    for viseme in visemes:
        nearest.append(last)
        last = viseme if viseme is not None else last
    return nearest
