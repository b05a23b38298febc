"""OpenAIChat against a real OpenAI-compatible server (llama.cpp's) and a faithful fake for errors."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from pipelines.backends import ChatMessage
from pipelines.errors import StageError
from pipelines.settings import Settings
from schemas.errors import ErrorCode
from tests.fakes.openai_fake import (
    ApiError,
    FakeOpenAI,
    Stall,
    insufficient_quota,
    invalid_api_key,
    rate_limited,
    reply,
    server_error,
)
from tools.stack import free_port
from workers.llm.openai_chat import OpenAIChat, estimate_tokens, parse_retry_after

PERSONA = ChatMessage("system", "You are Hana, a cheerful VTuber. Answer in one short sentence.")
HELLO = ChatMessage("user", "Hi! What is your name?")
FINE_TUNE = "ft:gpt-4o-mini-2024-07-18:acme:hana:9abcDEF1"


def make_chat(base_url: str, **overrides: object) -> OpenAIChat:
    values: dict[str, object] = {
        "openai_base_url": base_url,
        "openai_api_key": "sk-test",
        "openai_timeout_s": 5.0,
        "openai_max_retries": 2,
    }
    values.update(overrides)
    return OpenAIChat(Settings().model_copy(update=values), backoff_base_s=0.01)


def collect(chat: OpenAIChat, **kwargs: object) -> list[str]:
    options: dict[str, object] = {"max_tokens": 32, "temperature": 0.0}
    options.update(kwargs)
    return list(chat.stream_chat([PERSONA, HELLO], **options))  # type: ignore[arg-type]


# --- a real OpenAI-compatible server ------------------------------------------------------------


def test_streams_a_reply_from_a_real_openai_compatible_server(llama_server: str) -> None:
    chat = make_chat(llama_server, openai_api_key="", openai_model="qwen")
    deltas = collect(chat, seed=7)
    text = "".join(deltas)
    assert len(deltas) > 1, "the reply must arrive as a stream of deltas"
    assert "Hana" in text


# --- error paths against the fake ---------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-test", models=("gpt-4-turbo", FINE_TUNE)) as server:
        yield server


def test_streams_deltas_and_sends_plain_string_messages(fake: FakeOpenAI) -> None:
    fake.script(reply("Hi, I'm Hana! Nice to meet you."))
    deltas = collect(make_chat(fake.base_url), seed=11)
    assert "".join(deltas) == "Hi, I'm Hana! Nice to meet you."
    assert len(deltas) == 7

    [request] = fake.requests
    assert request.body["model"] == "gpt-4-turbo"
    assert request.body["stream"] is True
    assert request.body["seed"] == 11
    assert request.body["max_tokens"] == 32
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]
    assert all(isinstance(m["content"], str) for m in request.body["messages"])


def test_the_official_api_gets_max_completion_tokens() -> None:
    with FakeOpenAI(api_key="sk-test") as server:
        official = Settings().model_copy(update={"openai_base_url": "", "openai_api_key": "sk-test"})
        client = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
        list(
            OpenAIChat(official, client=client).stream_chat([PERSONA, HELLO], max_tokens=32, temperature=0.0)
        )
        [request] = server.requests
    assert request.body["max_completion_tokens"] == 32 and "max_tokens" not in request.body


def test_a_reasoning_model_behind_a_compatible_server_is_asked_again_without_what_it_refuses() -> None:
    with FakeOpenAI(api_key="sk-test", reasoning_models=("o4-mini",)) as server:
        chat = make_chat(server.base_url, openai_model="o4-mini")
        first = "".join(collect(chat, temperature=0.8))
        second = "".join(collect(chat, temperature=0.8))
        bodies = [r.body for r in server.requests]
    assert first == second == "Hello! I am a fake model."
    # max_tokens refused, then temperature refused, then the reply; the next turn asks right away.
    assert [("max_tokens" in b, "temperature" in b) for b in bodies] == [
        (True, True),
        (False, True),
        (False, False),
        (False, False),
    ]
    assert bodies[-1]["max_completion_tokens"] == 32


def test_a_refused_parameter_we_cannot_leave_out_is_a_final_bad_request(fake: FakeOpenAI) -> None:
    fake.script(
        ApiError(
            400,
            "Unsupported parameter: 'seed'",
            "invalid_request_error",
            "unsupported_parameter",
            param="seed",
        )
    )
    with pytest.raises(StageError) as raised:
        collect(make_chat(fake.base_url), seed=3)
    assert not raised.value.retryable and len(fake.requests) == 1


def test_model_override_selects_a_fine_tuned_model(fake: FakeOpenAI) -> None:
    collect(make_chat(fake.base_url), model=FINE_TUNE)
    assert fake.requests[0].body["model"] == FINE_TUNE
    assert "seed" not in fake.requests[0].body


def test_unknown_model_is_a_final_bad_request(fake: FakeOpenAI) -> None:
    with pytest.raises(StageError) as raised:
        collect(make_chat(fake.base_url), model="ft:deleted-model")
    assert raised.value.code == ErrorCode.llm_bad_request
    assert "does not exist" in raised.value.message
    assert len(fake.requests) == 1


def test_401_fails_at_once_with_auth_error(fake: FakeOpenAI) -> None:
    with pytest.raises(StageError) as raised:
        collect(make_chat(fake.base_url, openai_api_key="sk-wrong-key"))
    assert raised.value.code == ErrorCode.llm_auth
    assert raised.value.retryable is False
    assert len(fake.requests) == 1


def test_429_with_retry_after_is_retried_after_that_delay(fake: FakeOpenAI) -> None:
    fake.script(rate_limited(retry_after=1), reply("Here I am."))
    assert "".join(collect(make_chat(fake.base_url))) == "Here I am."
    first, second = fake.requests
    assert 0.95 <= second.received_at - first.received_at < 2.0


def test_429_rate_limit_after_all_retries_is_retryable(fake: FakeOpenAI) -> None:
    fake.script(*[rate_limited(retry_after=0.05)] * 3)
    with pytest.raises(StageError) as raised:
        collect(make_chat(fake.base_url, openai_max_retries=2))
    assert raised.value.code == ErrorCode.llm_rate_limited
    assert raised.value.retryable is True
    assert len(fake.requests) == 3


def test_429_insufficient_quota_is_not_retried(fake: FakeOpenAI) -> None:
    fake.script(insufficient_quota())
    with pytest.raises(StageError) as raised:
        collect(make_chat(fake.base_url))
    assert raised.value.code == ErrorCode.llm_quota
    assert raised.value.retryable is False
    assert len(fake.requests) == 1


def test_500_is_retried_then_succeeds(fake: FakeOpenAI) -> None:
    fake.script(server_error(), reply("Recovered."))
    assert "".join(collect(make_chat(fake.base_url))) == "Recovered."
    assert len(fake.requests) == 2


def test_500_always_fails_retryable_after_the_retries(fake: FakeOpenAI) -> None:
    fake.script(*[server_error()] * 5)
    with pytest.raises(StageError) as raised:
        collect(make_chat(fake.base_url, openai_max_retries=2))
    assert raised.value.code == ErrorCode.llm_failed
    assert raised.value.retryable is True
    assert len(fake.requests) == 3


def test_stalled_stream_ends_with_timeout_and_no_retry_after_the_first_token(fake: FakeOpenAI) -> None:
    fake.script(Stall("Well"), reply("never used"))
    chat = make_chat(fake.base_url, openai_timeout_s=1.0)
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(StageError) as raised:
        for delta in chat.stream_chat([PERSONA, HELLO], max_tokens=32, temperature=0.0):
            received.append(delta)
    elapsed = time.monotonic() - started
    assert received == ["Well"]
    assert raised.value.code == ErrorCode.llm_timeout
    assert raised.value.retryable is True
    assert 0.9 <= elapsed < 3.0
    assert len(fake.requests) == 1


def test_stream_stalled_before_the_first_token_is_retried(fake: FakeOpenAI) -> None:
    fake.script(Stall(""), reply("Second try."))
    chat = make_chat(fake.base_url, openai_timeout_s=0.5)
    assert "".join(collect(chat)) == "Second try."
    assert len(fake.requests) == 2


def test_unreachable_server_fails_retryable() -> None:
    port = free_port()
    with pytest.raises(StageError) as raised:
        collect(make_chat(f"http://127.0.0.1:{port}/v1", openai_max_retries=1))
    assert raised.value.code == ErrorCode.llm_failed
    assert raised.value.retryable is True


def test_official_api_without_a_key_is_an_auth_error() -> None:
    chat = OpenAIChat(Settings().model_copy(update={"openai_api_key": "", "openai_base_url": ""}))
    with pytest.raises(StageError) as raised:
        collect(chat)
    assert raised.value.code == ErrorCode.llm_auth


def test_invalid_api_key_body_matches_openai_shape(fake: FakeOpenAI) -> None:
    """The fake's error contract, so the tests above exercise what OpenAI really sends."""
    response = httpx.post(
        f"{fake.base_url}/chat/completions",
        headers={"Authorization": "Bearer sk-nope"},
        json={"model": "gpt-4-turbo", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert response.json()["error"]["code"] == invalid_api_key().code


def test_retry_after_header_forms() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 5))
    assert 3.0 <= (parse_retry_after({"retry-after": http_date}) or 0) <= 5.0
    assert parse_retry_after({}) is None


def test_token_count_without_cached_tiktoken_files_is_estimated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty: tiktoken would download
    chat = make_chat("http://127.0.0.1:9/v1")
    assert chat.count_tokens("hello world!") == 3
    assert chat.count_tokens("안녕하세요") == 5
    assert estimate_tokens("") == 0
    assert list(tmp_path.iterdir()) == []  # nothing was fetched into the cache
