"""Real spoken utterances for the demo, the e2e tests and the benchmarks, from the bundled Piper voice."""

from pipelines.audio_codec import encode_audio
from pipelines.personas import get_persona
from pipelines.settings import get_settings


def spoken_wav(text: str, persona: str = "hana") -> bytes:
    """``text`` read aloud by the persona's Piper voice, as WAV bytes."""
    from workers.tts.piper_backend import PiperSynthesizer  # model runtime: imported on use only

    speech = PiperSynthesizer(get_settings()).synthesize(
        text, persona=get_persona(persona), emotion="neutral"
    )
    return encode_audio(speech.samples, speech.sample_rate, "wav")
