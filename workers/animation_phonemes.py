"""Text → IPA phonemes with Piper's bundled espeak-ng, for engines that give no phoneme timings.

The animation stage aligns these to GPT-SoVITS audio; it needs the same phoneme inventory as
Piper's alignments, so it uses the same phonemizer without loading a voice. Other languages: pass
the espeak-ng voice (``cmn``, ``ja``, ...).
"""

from piper import voice as piper_voice
from piper.phonemize_espeak import EspeakPhonemizer

DEFAULT_ESPEAK_VOICE = "en-us"
_BREAKS = frozenset(".!?,;: ")  # espeak-ng puts a space after clause punctuation (",", ";", ":")


def text_phonemes(text: str, *, espeak_voice: str = DEFAULT_ESPEAK_VOICE) -> list[str]:
    """IPA phonemes and markers (stress, length, spaces, punctuation) of all sentences in order."""
    # espeak-ng is one process-wide state (voice, buffers): share Piper's own phonemizer and lock,
    # so this cannot interleave with a Piper synthesis phonemizing in another thread.
    with piper_voice._ESPEAK_PHONEMIZER_LOCK:
        if piper_voice._ESPEAK_PHONEMIZER is None:
            piper_voice._ESPEAK_PHONEMIZER = EspeakPhonemizer(piper_voice.ESPEAK_DATA_DIR)
        return join_sentences(piper_voice._ESPEAK_PHONEMIZER.phonemize(espeak_voice, text))


def join_sentences(sentences: list[list[str]]) -> list[str]:
    """One phoneme list; a sentence not ending in punctuation gets a ``.`` (a phrase break)."""
    phonemes: list[str] = []
    for sentence in sentences:
        phonemes.extend(sentence)
        if sentence and sentence[-1] not in _BREAKS:
            phonemes.append(".")
    return phonemes
