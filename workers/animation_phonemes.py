"""Text → IPA phonemes with Piper's bundled espeak-ng, for engines that give no phoneme timings.

The animation stage spreads these over the voiced parts of GPT-SoVITS audio; it needs the same
phoneme inventory as Piper's alignments, so it uses the same phonemizer without loading a voice.
"""

from piper import voice as piper_voice
from piper.phonemize_espeak import EspeakPhonemizer

DEFAULT_ESPEAK_VOICE = "en-us"
_BREAKS = frozenset(".!?,;: ")  # espeak-ng puts a space after clause punctuation (",", ";", ":")


def text_phonemes(text: str, *, espeak_voice: str = DEFAULT_ESPEAK_VOICE) -> list[str]:
    """IPA phonemes and markers (stress, length, spaces, punctuation) of all sentences in order.

    A sentence that does not end in punctuation gets a ``.`` so sentence breaks stay visible.
    """
    # espeak-ng is one process-wide state (voice, buffers): share Piper's own phonemizer and lock,
    # so this cannot interleave with a Piper synthesis phonemizing in another thread.
    with piper_voice._ESPEAK_PHONEMIZER_LOCK:
        if piper_voice._ESPEAK_PHONEMIZER is None:
            piper_voice._ESPEAK_PHONEMIZER = EspeakPhonemizer(piper_voice.ESPEAK_DATA_DIR)
        sentences = piper_voice._ESPEAK_PHONEMIZER.phonemize(espeak_voice, text)
    phonemes: list[str] = []
    for sentence in sentences:
        phonemes.extend(sentence)
        if sentence and sentence[-1] not in _BREAKS:
            phonemes.append(".")
    return phonemes
