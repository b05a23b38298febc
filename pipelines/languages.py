"""Which languages the configured models serve, decided from settings alone.

The API asks before it accepts work (a session whose persona the voice cannot speak, audio in a
language the speech model cannot hear: a clear 4xx, not a failed turn later); the STT stage asks
which model hears a session's language. Whisper's English-only checkpoints end in ``.en``.
"""

from pipelines.gpt_sovits_versions import voice_problems
from pipelines.settings import Settings
from schemas.persona import Persona


def is_english_only(stt_model: str) -> bool:
    return stt_model.removesuffix("/").endswith(".en")


def live_stt_model(settings: Settings, language: str) -> str | None:
    """The model that hears ``language`` live: the configured one when it can, else the
    multilingual one; None when neither is available."""
    if language == "en" or not is_english_only(settings.stt_model):
        return settings.stt_model
    return settings.stt_multilingual_model or None


def voice_refusal(settings: Settings, persona: Persona) -> str | None:
    """Why the configured voice cannot speak ``persona``'s language (None: it can)."""
    if settings.tts_backend == "piper" and persona.language not in settings.piper_languages:
        return (
            f"persona {persona.id!r} speaks {persona.language!r}, and the Piper voice speaks only "
            f"{', '.join(settings.piper_languages)}: use VTUBER_TTS_BACKEND=gpt_sovits for it"
        )
    if settings.tts_backend == "gpt_sovits":
        return "; ".join(voice_problems(persona, settings.gpt_sovits_version)) or None
    return None


def hearing_refusal(settings: Settings, persona: Persona) -> str | None:
    """Why live audio in ``persona``'s language cannot be transcribed (None: it can)."""
    if live_stt_model(settings, persona.language) is None:
        return (
            f"the speech model {settings.stt_model} is English-only and no multilingual model is "
            f"configured (VTUBER_STT_MULTILINGUAL_MODEL) for {persona.language!r}"
        )
    return None
