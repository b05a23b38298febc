"""Korean and Japanese viewers: heard in their language, answered in it, voiced through GPT-SoVITS.

The stack's API and TTS workers switch to GPT-SoVITS (the faithful fake of its api_v2 contract; no
registry ships the server), as a deployment with Korean or Japanese personas would run. The STT
worker keeps the English-only tiny.en and hands these sessions to the bundled multilingual base
model. Japanese speech comes from espeak-ng (robotic, written in kana so it reads real Japanese);
no Korean voice installs offline here, so the Korean turn is typed.
"""

import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import wait_for_job
from tests.fakes.gpt_sovits_fake import FakeGptSovits
from tools.stack import Stack

pytestmark = pytest.mark.e2e

PERSONAS = {
    "sora": ("neutral", "happy", "sad", "surprised"),
    "yuki": ("neutral", "happy", "sad", "surprised"),
}
REFS = {f"/srv/gpt-sovits/refs/{p}/{name}.wav": 5.0 for p, names in PERSONAS.items() for name in names}
SCRIPTS = {"ja": ("HIRAGANA", "KATAKANA", "CJK"), "ko": ("HANGUL",)}


def share_in_script(text: str, language: str) -> float:
    """How much of ``text``'s letters are written in ``language``'s script."""
    letters = [c for c in text if c.isalpha()]
    native = [c for c in letters if unicodedata.name(c, "").startswith(SCRIPTS[language])]
    return len(native) / len(letters) if letters else 0.0


@pytest.fixture(scope="module")
def sovits_stack(stack: Stack) -> Iterator[FakeGptSovits]:
    """The API and the voice on GPT-SoVITS for this module, then back to Piper."""
    sovits_env = {"VTUBER_TTS_BACKEND": "gpt_sovits"}
    with FakeGptSovits(ref_clips=REFS) as server:
        sovits_env["VTUBER_GPT_SOVITS_URL"] = server.url
        stack.stop("api")
        stack.start_api(sovits_env)
        stack.replace_workers("tts", suffix="-sovits-lang", extra_env=sovits_env)
        try:
            yield server
        finally:
            stack.stop("api")
            stack.start_api()
            stack.replace_workers("tts", suffix="-piper")


def espeak_wav(text: str, language: str, tmp_path: Path) -> bytes:
    out = tmp_path / "line.wav"
    subprocess.run(["espeak-ng", "-v", language, "-s", "130", "-w", str(out), text], check=True)
    return out.read_bytes()


def test_a_japanese_viewer_is_heard_answered_and_voiced_in_japanese(
    api: httpx.Client, sovits_stack: FakeGptSovits, tmp_path: Path
) -> None:
    session = api.post("/v1/sessions", json={"persona": "yuki"})
    assert session.status_code == 201, session.text
    accepted = api.post(
        f"/v1/sessions/{session.json()['id']}/utterances",
        files={
            "audio": ("line.wav", espeak_wav("こんにちは。きょうは なんの げーむを しますか", "ja", tmp_path))
        },
    )
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(api, accepted.json()["job_id"])
    assert job["status"] == "completed", job["error"]
    transcript = job["transcript"]
    assert transcript["language"] == "ja" and share_in_script(transcript["text"], "ja") > 0.8, transcript
    assert share_in_script(job["reply"]["text"], "ja") > 0.8, job["reply"]
    requests = [r for r in sovits_stack.requests if r["text"] in {s["text"] for s in job["segments"]}]
    assert len(requests) == job["segments_total"]
    assert {(r["text_lang"], r["prompt_lang"]) for r in requests} == {("ja", "ja")}
    assert all(r["ref_audio_path"].startswith("/srv/gpt-sovits/refs/yuki/") for r in requests)


def test_a_korean_viewer_is_answered_and_voiced_in_korean(
    api: httpx.Client, sovits_stack: FakeGptSovits
) -> None:
    session = api.post("/v1/sessions", json={"persona": "sora"})
    assert session.status_code == 201, session.text
    accepted = api.post(
        f"/v1/sessions/{session.json()['id']}/utterances", json={"text": "안녕하세요! 오늘은 무슨 게임 해요?"}
    )
    job = wait_for_job(api, accepted.json()["job_id"])
    assert job["status"] == "completed", job["error"]
    assert share_in_script(job["reply"]["text"], "ko") > 0.8, job["reply"]
    requests = [r for r in sovits_stack.requests if r["text"] in {s["text"] for s in job["segments"]}]
    assert len(requests) == job["segments_total"]
    assert {(r["text_lang"], r["prompt_lang"]) for r in requests} == {("ko", "ko")}
