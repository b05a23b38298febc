"""Which languages the configured models serve: decided before any work is accepted."""

from pipelines.languages import hearing_refusal, is_english_only, live_stt_model, voice_refusal
from pipelines.personas import load_personas
from pipelines.settings import PROJECT_ROOT, Settings

PERSONAS = load_personas(PROJECT_ROOT / "personas")


def test_the_bundled_korean_and_japanese_personas_speak_through_gpt_sovits() -> None:
    for persona_id, language in (("sora", "ko"), ("yuki", "ja")):
        persona = PERSONAS[persona_id]
        assert persona.language == language
        voice = persona.voice.gpt_sovits
        assert voice is not None and voice.text_lang == voice.prompt_lang == language


def test_an_english_only_model_hands_other_languages_to_the_multilingual_one() -> None:
    settings = Settings(stt_model="bundled:tiny.en", stt_multilingual_model="bundled:base")
    assert is_english_only("bundled:tiny.en") and not is_english_only("bundled:base")
    assert live_stt_model(settings, "en") == "bundled:tiny.en"
    assert live_stt_model(settings, "ko") == live_stt_model(settings, "ja") == "bundled:base"
    assert hearing_refusal(settings, PERSONAS["sora"]) is None


def test_a_multilingual_model_hears_every_language_itself() -> None:
    settings = Settings(stt_model="/models/whisper-large-v3", stt_multilingual_model="")
    assert live_stt_model(settings, "ja") == "/models/whisper-large-v3"


def test_no_model_for_the_language_is_a_refusal_that_names_the_setting() -> None:
    settings = Settings(stt_model="bundled:tiny.en", stt_multilingual_model="")
    assert live_stt_model(settings, "ko") is None
    refusal = hearing_refusal(settings, PERSONAS["sora"])
    assert refusal is not None and "VTUBER_STT_MULTILINGUAL_MODEL" in refusal
    assert hearing_refusal(settings, PERSONAS["hana"]) is None


def test_the_piper_voice_speaks_only_its_languages() -> None:
    piper = Settings(tts_backend="piper")
    assert voice_refusal(piper, PERSONAS["hana"]) is None
    refusal = voice_refusal(piper, PERSONAS["yuki"])
    assert refusal is not None and "gpt_sovits" in refusal
    sovits = Settings(tts_backend="gpt_sovits")
    assert voice_refusal(sovits, PERSONAS["yuki"]) is None and voice_refusal(sovits, PERSONAS["sora"]) is None
