"""The same pipeline on the production backends: an OpenAI-compatible LLM server and GPT-SoVITS.

The LLM is llama-cpp-python's real OpenAI-compatible server; GPT-SoVITS is the faithful fake of
its api_v2 contract (no registry ships it). Workers are swapped by settings alone, as in production.
A server that accepts a request and never answers (the faithful fakes in hang mode) must fail the
turn in bounded time, with a code naming the cause, after a bounded number of requests.
"""

import time
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import wait_for_job
from tests.fakes.gpt_sovits_fake import FakeGptSovits
from tests.fakes.openai_fake import FakeOpenAI, Hang
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


# Small limits so a hanging server costs seconds: each request times out after TIMEOUT_S, a task
# makes 1 + CLIENT_RETRIES requests, and Celery runs the task 1 + STAGE_RETRIES times.
TIMEOUT_S = 2
CLIENT_RETRIES = 1
STAGE_RETRIES = 1
REQUESTS_PER_STAGE = (1 + STAGE_RETRIES) * (1 + CLIENT_RETRIES)
# Per task run: REQUESTS x TIMEOUT_S plus client back-off (under 1 s here), then Celery's 1 s
# countdown; the rest is the stack's own latency on two shared cores (an LLM reply, a voice).
FAIL_WITHIN_S = 90


def wait_for_failure(api: httpx.Client, job_id: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    job = wait_for_job(api, job_id, timeout=FAIL_WITHIN_S)
    return job, time.monotonic() - started


def test_a_hanging_llm_server_fails_the_turn_with_llm_timeout(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    with FakeOpenAI(api_key="sk-test", models=("gpt-4-turbo",), default=Hang()) as llm:
        stack.replace_workers(
            "llm",
            suffix="-openai-hanging",
            extra_env={
                "VTUBER_LLM_BACKEND": "openai",
                "VTUBER_OPENAI_BASE_URL": llm.base_url,
                "VTUBER_OPENAI_API_KEY": llm.api_key,
                "VTUBER_OPENAI_MODEL": "gpt-4-turbo",
                "VTUBER_OPENAI_TIMEOUT_S": str(TIMEOUT_S),
                "VTUBER_OPENAI_MAX_RETRIES": str(CLIENT_RETRIES),
                "VTUBER_STAGE_MAX_RETRIES": str(STAGE_RETRIES),
            },
        )
        try:
            accepted = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Are you there?"})
            job, seconds = wait_for_failure(api, accepted.json()["job_id"])
            print(f"hanging LLM: {job['status']} after {seconds:.1f} s, {len(llm.requests)} requests")
            assert job["status"] == "failed", job
            assert job["error"]["code"] == "llm_timeout", job["error"]
            assert job["error"]["stage"] == "llm", job["error"]
            # Every request reached the server (none were lost before it), and no more were made;
            # each was sent only after the one before had timed out.
            arrivals = [r.received_at for r in llm.requests]
            assert len(arrivals) == REQUESTS_PER_STAGE, arrivals
            assert all(later - earlier >= 0.95 * TIMEOUT_S for earlier, later in pairwise(arrivals)), arrivals
            assert seconds >= REQUESTS_PER_STAGE * TIMEOUT_S
        finally:
            stack.replace_workers("llm", suffix="-local")
    assert not job["segments"]


def test_a_hanging_gpt_sovits_server_fails_the_turn_with_tts_timeout(
    api: httpx.Client, session_id: str, stack: Stack, gpt_sovits: FakeGptSovits
) -> None:
    gpt_sovits.hang()
    stack.replace_workers(
        "tts",
        suffix="-sovits-hanging",
        extra_env={
            "VTUBER_TTS_BACKEND": "gpt_sovits",
            "VTUBER_GPT_SOVITS_URL": gpt_sovits.url,
            "VTUBER_GPT_SOVITS_TIMEOUT_S": str(TIMEOUT_S),
            "VTUBER_GPT_SOVITS_TIMEOUT_PER_CHAR_S": "0",
            "VTUBER_GPT_SOVITS_MAX_RETRIES": str(CLIENT_RETRIES),
            "VTUBER_STAGE_MAX_RETRIES": str(STAGE_RETRIES),
        },
    )
    try:
        accepted = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Say hello to the chat!"})
        job, seconds = wait_for_failure(api, accepted.json()["job_id"])
        per_segment = Counter(str(request["text"]) for request in gpt_sovits.requests)
        print(
            f"hanging GPT-SoVITS: {job['status']} after {seconds:.1f} s, requests per segment {per_segment}"
        )
        assert job["status"] == "failed", job
        assert job["error"]["code"] == "tts_timeout", job["error"]
        assert job["error"]["stage"] == "tts" and "did not answer" in job["error"]["message"], job["error"]
        # The segment that failed the turn used up its requests; none was asked for more. (Each
        # timed-out request is asked again only after the server answered a probe or as long again
        # passed, holding the server's one slot: the others wait their turn.)
        assert max(per_segment.values()) == REQUESTS_PER_STAGE, per_segment
        assert seconds >= REQUESTS_PER_STAGE * TIMEOUT_S
    finally:
        stack.replace_workers("tts", suffix="-piper")
