"""The same pipeline on the production backends: an OpenAI-compatible LLM server and GPT-SoVITS.

The LLM is llama-cpp-python's real OpenAI-compatible server; GPT-SoVITS is the faithful fake of
its api_v2 contract (no registry ships it). Workers are swapped by settings alone, as in production.
"""

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import wait_for_job
from tests.fakes.gpt_sovits_fake import FakeGptSovits
from tools.stack import Stack

pytestmark = pytest.mark.e2e

REFS = {
    f"/srv/gpt-sovits/refs/hana/{name}.wav": 5.0 for name in ("neutral", "happy", "sad", "angry", "surprised")
}


@pytest.fixture
def gpt_sovits() -> Iterator[FakeGptSovits]:
    with FakeGptSovits(ref_clips=REFS) as server:
        yield server


def test_openai_compatible_llm_and_gpt_sovits_voice(
    api: httpx.Client, session_id: str, stack: Stack, llama_server: str, gpt_sovits: FakeGptSovits
) -> None:
    stack.replace_workers(
        "llm",
        suffix="-openai",
        extra_env={
            "VTUBER_LLM_BACKEND": "openai",
            "VTUBER_OPENAI_BASE_URL": llama_server,
            "VTUBER_OPENAI_MODEL": "qwen",
        },
    )
    stack.replace_workers(
        "tts",
        suffix="-sovits",
        extra_env={"VTUBER_TTS_BACKEND": "gpt_sovits", "VTUBER_GPT_SOVITS_URL": gpt_sovits.url},
    )
    try:
        accepted = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Say hello to the chat!"})
        job = wait_for_job(api, accepted.json()["job_id"])
        assert job["status"] == "completed", job["error"]
        assert job["reply"]["text"]
        assert len(gpt_sovits.requests) == job["segments_total"]
        for segment, request in zip(job["segments"], gpt_sovits.requests, strict=True):
            assert request["text"] == segment["text"] and request["media_type"] == "wav"
            assert request["ref_audio_path"].startswith("/srv/gpt-sovits/refs/hana/")
            assert segment["sample_rate"] == 32000
            track = segment["animation"]
            assert track["source"] == "energy"  # GPT-SoVITS gives no timings: text phonemes + energy
            assert abs(track["duration_s"] - segment["duration_s"]) <= 0.02
    finally:
        stack.replace_workers("llm", suffix="-local")
        stack.replace_workers("tts", suffix="-piper")
