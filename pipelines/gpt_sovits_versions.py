"""What a GPT-SoVITS server accepts and returns, by its model version, and the personas it can voice.

From upstream's ``TTS_Config``: v1 reads fewer languages; v3 and v4 synthesize through a vocoder
(24 kHz and 48 kHz, the others 32 kHz), refuse an empty ``prompt_text`` and fall back from token
streaming to one chunk per sentence. Checked when a TTS worker starts and when the API accepts a
session, so a persona the server cannot voice is refused once, not failed segment by segment.
"""

from dataclasses import dataclass

from schemas.persona import GPT_SOVITS_LANGUAGES, Persona


@dataclass(frozen=True)
class ModelVersion:
    name: str
    sample_rate: int
    languages: tuple[str, ...]
    needs_prompt_text: bool
    streams_tokens: bool


V1_LANGUAGES = ("auto", "en", "zh", "ja", "all_zh", "all_ja")
VERSIONS: dict[str, ModelVersion] = {
    version.name: version
    for version in (
        ModelVersion("v1", 32000, V1_LANGUAGES, needs_prompt_text=False, streams_tokens=True),
        ModelVersion("v2", 32000, GPT_SOVITS_LANGUAGES, needs_prompt_text=False, streams_tokens=True),
        ModelVersion("v2Pro", 32000, GPT_SOVITS_LANGUAGES, needs_prompt_text=False, streams_tokens=True),
        ModelVersion("v2ProPlus", 32000, GPT_SOVITS_LANGUAGES, needs_prompt_text=False, streams_tokens=True),
        ModelVersion("v3", 24000, GPT_SOVITS_LANGUAGES, needs_prompt_text=True, streams_tokens=False),
        ModelVersion("v4", 48000, GPT_SOVITS_LANGUAGES, needs_prompt_text=True, streams_tokens=False),
    )
}


def voice_problems(persona: Persona, version: str) -> list[str]:
    """Why a server running ``version`` cannot voice ``persona`` (empty: it can)."""
    voice = persona.voice.gpt_sovits
    if voice is None:
        return [f"persona {persona.id!r} has no GPT-SoVITS voice settings (voice.gpt_sovits)"]
    model = VERSIONS[version]
    problems = []
    codes = {"text_lang": voice.text_lang, "prompt_lang": voice.prompt_lang}
    codes |= {f"emotion_refs.{name}.prompt_lang": ref.prompt_lang for name, ref in voice.emotion_refs.items()}
    for where, code in codes.items():
        if code is not None and code not in model.languages:
            problems.append(
                f"persona {persona.id!r}: {where} {code!r} is not supported by GPT-SoVITS {version} "
                f"(it reads {', '.join(model.languages)})"
            )
    if model.needs_prompt_text:
        for name, (path, prompt_text) in voice.references().items():
            if not prompt_text.strip():
                problems.append(
                    f"persona {persona.id!r}: reference {name} ({path}) has no prompt_text, which "
                    f"GPT-SoVITS {version} refuses"
                )
    return problems
