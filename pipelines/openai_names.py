"""OpenAI model and voice names mapped onto this service's models and personas (settings decide).

``whisper-1`` becomes the configured STT model; a request the English-only model cannot serve (a
translation, or a language other than English) goes to the multilingual model, as live sessions
do (pipelines/languages.py). Voices name personas, whose voice settings the TTS worker follows.
"""

from dataclasses import dataclass

from pipelines.languages import is_english_only, voice_refusal
from pipelines.personas import UnknownPersona, get_persona
from pipelines.settings import Settings
from schemas.errors import ErrorCode


@dataclass
class NameRefused(Exception):
    """A name or combination the settings do not serve; ``param`` is the request field at fault."""

    code: ErrorCode
    message: str
    param: str


def stt_model_for(settings: Settings, name: str, *, task: str, language: str | None) -> str:
    """The STT model spec to run for the client's model ``name``."""
    if name in settings.openai_stt_models:
        spec = settings.openai_stt_models[name] or settings.stt_model
    elif name in settings.stt_allowed_models:
        spec = name
    else:
        names = sorted({*settings.openai_stt_models, *settings.stt_allowed_models})
        raise NameRefused(
            ErrorCode.unknown_model, f"model {name!r} is not served here; use one of {names}", "model"
        )
    needs_languages = task == "translate" or (language or "en").split("-")[0].lower() != "en"
    if needs_languages and is_english_only(spec):
        if not settings.stt_multilingual_model:
            what = "translate" if task == "translate" else f"hear {language!r}"
            raise NameRefused(
                ErrorCode.language_unsupported,
                f"model {spec} is English-only and no multilingual model is configured to {what} "
                "(VTUBER_STT_MULTILINGUAL_MODEL)",
                "language" if task != "translate" else "model",
            )
        spec = settings.stt_multilingual_model
    return spec


def check_tts_model(settings: Settings, name: str) -> None:
    if name not in settings.openai_tts_models:
        raise NameRefused(
            ErrorCode.unknown_model,
            f"model {name!r} is not served here; use one of {settings.openai_tts_models}",
            "model",
        )


def persona_for_voice(settings: Settings, voice: str) -> str:
    """The persona that speaks as ``voice``: a mapped OpenAI voice name, or a persona id."""
    persona_id = settings.openai_voices.get(voice, voice)
    try:
        persona = get_persona(persona_id)
    except UnknownPersona:
        raise NameRefused(
            ErrorCode.unknown_voice,
            f"voice {voice!r} is not served here; use one of {sorted(settings.openai_voices)} "
            "or a persona id",
            "voice",
        ) from None
    refusal = voice_refusal(settings, persona)
    if refusal:
        raise NameRefused(ErrorCode.language_unsupported, refusal, "voice")
    return persona.id
