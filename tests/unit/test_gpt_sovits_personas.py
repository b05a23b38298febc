"""GPT-SoVITS voice settings: language codes checked and derived once, and versions' demands."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.gpt_sovits_versions import VERSIONS, voice_problems
from pipelines.languages import voice_refusal
from pipelines.personas import load_personas
from pipelines.settings import PROJECT_ROOT, Settings
from schemas.persona import GptSovitsReference, GptSovitsVoice, Persona, VoiceSettings
from workers.tts.gpt_sovits import refuse_unvoiceable_personas

BUNDLED = load_personas(PROJECT_ROOT / "personas")


def persona(language: str = "en", **voice: object) -> Persona:
    fields: dict[str, object] = {"ref_audio_path": "/srv/ref.wav", "prompt_text": "Hello."} | voice
    return Persona(
        id="p",
        name="P",
        system_prompt="x",
        language=language,
        voice=VoiceSettings(gpt_sovits=GptSovitsVoice.model_validate(fields)),
    )


def test_codes_are_lower_cased_and_stripped() -> None:
    voice = persona(text_lang=" EN", prompt_lang="All_Ja").voice.gpt_sovits
    assert voice is not None and (voice.text_lang, voice.prompt_lang) == ("en", "all_ja")
    ref = GptSovitsReference(ref_audio_path="/r.wav", prompt_lang="KO")
    assert ref.prompt_lang == "ko"


@pytest.mark.parametrize("field", ["text_lang", "prompt_lang"])
def test_an_unknown_code_is_refused_with_the_known_ones(field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        GptSovitsVoice.model_validate({"ref_audio_path": "/r.wav", field: "english"})
    assert "'english' is not a GPT-SoVITS language" in str(raised.value) and "all_ko" in str(raised.value)
    with pytest.raises(ValidationError):
        GptSovitsReference(ref_audio_path="/r.wav", prompt_lang="jp")


@pytest.mark.parametrize(("language", "text_lang"), [("en", "en"), ("ja", "ja"), ("ko", "ko"), ("zh", "zh")])
def test_text_lang_defaults_to_the_persona_language_and_prompt_lang_follows(
    language: str, text_lang: str
) -> None:
    voice = persona(language).voice.gpt_sovits
    assert voice is not None and (voice.text_lang, voice.prompt_lang) == (text_lang, text_lang)


def test_the_bundled_personas_read_their_own_language() -> None:
    languages = {
        p.id: (p.voice.gpt_sovits.text_lang, p.voice.gpt_sovits.prompt_lang)
        for p in BUNDLED.values()
        if p.voice.gpt_sovits
    }
    assert languages == {"hana": ("en", "en"), "sora": ("ko", "ko"), "yuki": ("ja", "ja")}


def test_a_text_lang_that_would_mispronounce_the_persona_is_refused() -> None:
    with pytest.raises(ValidationError, match="'en' would read 'ko' text with the wrong pronunciation"):
        persona("ko", text_lang="en")
    assert persona("ko", text_lang="all_ko").voice.gpt_sovits is not None  # all_ko reads Korean too


def test_a_persona_language_gpt_sovits_cannot_derive_needs_an_explicit_text_lang() -> None:
    with pytest.raises(ValidationError, match=r"set voice\.gpt_sovits\.text_lang"):
        persona("fr")
    assert persona("fr", text_lang="auto").voice.gpt_sovits is not None


def test_the_callers_voice_settings_are_not_changed() -> None:
    voice = VoiceSettings(gpt_sovits=GptSovitsVoice(ref_audio_path="/r.wav"))
    Persona(id="p", name="P", system_prompt="x", language="ja", voice=voice)
    assert voice.gpt_sovits is not None and voice.gpt_sovits.text_lang is None


def test_versions_and_their_rates() -> None:
    rates = {name: version.sample_rate for name, version in VERSIONS.items()}
    assert rates == {"v1": 32000, "v2": 32000, "v2Pro": 32000, "v2ProPlus": 32000, "v3": 24000, "v4": 48000}
    assert "ko" not in VERSIONS["v1"].languages and "ko" in VERSIONS["v2"].languages


def test_v1_cannot_voice_korean() -> None:
    sora = BUNDLED["sora"]
    problems = voice_problems(sora, "v1")
    assert [p.split(":")[1].split("'")[0].strip() for p in problems] == ["text_lang", "prompt_lang"]
    assert "text_lang 'ko' is not supported by GPT-SoVITS v1" in problems[0]
    assert voice_problems(BUNDLED["yuki"], "v1") == [] and voice_problems(sora, "v2") == []


def test_v3_and_v4_need_every_reference_prompt_text() -> None:
    sad = {"sad": GptSovitsReference(ref_audio_path="/srv/sad.wav")}
    quiet = persona(emotion_refs=sad)
    assert voice_problems(quiet, "v2") == []
    for version in ("v3", "v4"):
        [problem] = voice_problems(quiet, version)
        assert "reference sad (/srv/sad.wav) has no prompt_text" in problem
    assert all(voice_problems(p, "v4") == [] for p in BUNDLED.values())


def test_the_api_refuses_a_persona_the_server_version_cannot_voice() -> None:
    v1 = Settings(tts_backend="gpt_sovits", gpt_sovits_version="v1")
    refusal = voice_refusal(v1, BUNDLED["sora"])
    assert refusal is not None and "not supported by GPT-SoVITS v1" in refusal
    assert voice_refusal(v1, BUNDLED["hana"]) is None


def test_startup_check_names_every_persona_it_cannot_voice(tmp_path: Path) -> None:
    (tmp_path / "quiet.yaml").write_text(
        "id: quiet\nname: Q\nsystem_prompt: x\nlanguage: ja\n"
        "voice:\n  gpt_sovits:\n    ref_audio_path: /srv/q.wav\n",
        encoding="utf-8",
    )
    (tmp_path / "piper_only.yaml").write_text("id: piper_only\nname: P\nsystem_prompt: x\n", encoding="utf-8")
    refuse_unvoiceable_personas(Settings(personas_dir=tmp_path, gpt_sovits_version="v2"))
    with pytest.raises(RuntimeError, match="persona 'quiet': reference default"):
        refuse_unvoiceable_personas(Settings(personas_dir=tmp_path, gpt_sovits_version="v4"))


def test_a_tts_worker_refuses_to_start_for_a_version_that_cannot_voice_a_persona() -> None:
    """The worker imports its task module at start-up: that is where it refuses, not per segment."""

    def start(version: str) -> subprocess.CompletedProcess[str]:
        env = os.environ | {
            "VTUBER_TTS_BACKEND": "gpt_sovits",
            "VTUBER_GPT_SOVITS_VERSION": version,
            "VTUBER_WORKER_KIND": "tts",
            "VTUBER_PERSONAS_DIR": str(PROJECT_ROOT / "personas"),
        }
        code = "import workers.tasks.tts"
        return subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    refused = start("v1")
    assert refused.returncode != 0 and "persona 'sora'" in refused.stderr, refused.stderr[-2000:]
    started = start("v2")
    assert started.returncode == 0, started.stderr[-2000:]
