"""A persona: who the avatar is, how it speaks, and which voice and emotions it may use."""

from pydantic import BaseModel, Field


class PiperVoice(BaseModel):
    voice: str | None = Field(default=None, description="Overrides the piper_voice setting.")
    length_scale: float = 1.0
    sentence_silence_s: float = 0.2


class GptSovitsVoice(BaseModel):
    """Reference clips live on the GPT-SoVITS server's disk; one per emotion expresses emotion."""

    ref_audio_path: str
    prompt_text: str = ""
    prompt_lang: str = "en"
    text_lang: str = "en"
    speed_factor: float = 1.0
    emotion_refs: dict[str, "GptSovitsReference"] = Field(default_factory=dict)


class GptSovitsReference(BaseModel):
    ref_audio_path: str
    prompt_text: str = ""
    prompt_lang: str | None = None


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


GptSovitsVoice.model_rebuild()
