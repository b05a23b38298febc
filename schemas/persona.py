"""A persona: who the avatar is, how it speaks, and which voice and emotions it may use."""

from pydantic import BaseModel, Field, field_validator, model_validator

# Every language code a GPT-SoVITS api_v2 server (v2 and later) accepts; v1 knows fewer
# (pipelines/gpt_sovits_versions.py checks a persona against the server's version). The server
# lower-cases them only to check them: "EN" passes its check and then fails deep in synthesis.
GPT_SOVITS_LANGUAGES = (
    "auto",
    "auto_yue",
    "en",
    "zh",
    "ja",
    "yue",
    "ko",
    "all_zh",
    "all_ja",
    "all_yue",
    "all_ko",
)
# A persona's language -> the text_lang a GPT-SoVITS voice reads it with by default, and every
# code that reads it right ("en" would read Japanese or Korean text with English pronunciation).
GPT_SOVITS_READS: dict[str, tuple[str, frozenset[str]]] = {
    "en": ("en", frozenset({"en", "auto"})),
    "ja": ("ja", frozenset({"ja", "all_ja", "auto"})),
    "ko": ("ko", frozenset({"ko", "all_ko", "auto"})),
    "zh": ("zh", frozenset({"zh", "all_zh", "auto"})),
    "yue": ("yue", frozenset({"yue", "all_yue", "auto_yue"})),
}


def gpt_sovits_language(value: str | None) -> str | None:
    """``value`` lower-cased and stripped; refused unless GPT-SoVITS knows it."""
    if value is None:
        return None
    code = value.strip().lower()
    if code not in GPT_SOVITS_LANGUAGES:
        raise ValueError(
            f"{value!r} is not a GPT-SoVITS language; use one of {', '.join(GPT_SOVITS_LANGUAGES)}"
        )
    return code


class PiperVoice(BaseModel):
    voice: str | None = Field(default=None, description="Overrides the piper_voice setting.")
    length_scale: float = 1.0
    sentence_silence_s: float = 0.2


class GptSovitsVoice(BaseModel):
    """Reference clips live on the GPT-SoVITS server's disk; one per emotion expresses emotion.

    Inside a Persona ``text_lang`` and ``prompt_lang`` are always set: ``text_lang`` defaults to
    the persona's language, ``prompt_lang`` to ``text_lang``.
    """

    ref_audio_path: str
    prompt_text: str = ""
    prompt_lang: str | None = Field(default=None, description="Language of prompt_text; default: text_lang.")
    text_lang: str | None = Field(default=None, description="Default: the persona's language.")
    speed_factor: float = 1.0
    emotion_refs: dict[str, "GptSovitsReference"] = Field(default_factory=dict)

    _languages = field_validator("text_lang", "prompt_lang")(gpt_sovits_language)

    def references(self) -> dict[str, tuple[str, str]]:
        """Every reference clip by name ("default" or the emotion): (path, prompt_text)."""
        refs = {"default": (self.ref_audio_path, self.prompt_text)}
        refs.update({name: (ref.ref_audio_path, ref.prompt_text) for name, ref in self.emotion_refs.items()})
        return refs


class GptSovitsReference(BaseModel):
    ref_audio_path: str
    prompt_text: str = ""
    prompt_lang: str | None = Field(default=None, description="Default: the voice's prompt_lang.")

    _languages = field_validator("prompt_lang")(gpt_sovits_language)


class VoiceSettings(BaseModel):
    piper: PiperVoice = Field(default_factory=PiperVoice)
    gpt_sovits: GptSovitsVoice | None = None


class Persona(BaseModel):
    id: str
    version: str = "1"
    name: str
    system_prompt: str
    speaking_style: str = ""
    language: str = "en"
    allowed_emotions: list[str] = Field(
        default_factory=lambda: ["neutral", "happy", "angry", "sad", "relaxed", "surprised"]
    )
    allowed_motions: list[str] = Field(default_factory=lambda: ["wave", "nod", "shake_head", "bow"])
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    llm_model: str | None = Field(
        default=None, description="Model id override, e.g. a fine-tuned model on the OpenAI backend."
    )

    @model_validator(mode="after")
    def _gpt_sovits_reads_the_persona_language(self) -> "Persona":
        """Fill the GPT-SoVITS languages from the persona's and refuse a voice that would read the
        persona's language with another language's pronunciation."""
        voice = self.voice.gpt_sovits
        if voice is None:
            return self
        default, readers = GPT_SOVITS_READS.get(self.language, (None, frozenset()))
        text_lang = voice.text_lang or default
        if text_lang is None:
            raise ValueError(
                f"GPT-SoVITS cannot derive text_lang from the persona language {self.language!r}: "
                "set voice.gpt_sovits.text_lang"
            )
        if readers and text_lang not in readers:
            raise ValueError(
                f"voice.gpt_sovits.text_lang {text_lang!r} would read {self.language!r} text with the "
                f"wrong pronunciation; use one of {', '.join(sorted(readers))}"
            )
        resolved = voice.model_copy(
            update={"text_lang": text_lang, "prompt_lang": voice.prompt_lang or text_lang}
        )
        self.voice = self.voice.model_copy(update={"gpt_sovits": resolved})  # never the caller's object
        return self


GptSovitsVoice.model_rebuild()
