"""LocalLlamaChat with the real bundled Qwen2.5 0.5B GGUF (one load shared by the module)."""

import importlib.util
import threading

import pytest

from pipelines.backends import ChatMessage
from pipelines.errors import StageError
from pipelines.settings import Settings
from schemas.errors import ErrorCode
from workers.llm import local_llama
from workers.llm.local_llama import LocalLlamaChat

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed (pip install -e '.[llm]')",
)

PERSONA = ChatMessage("system", "You are Hana, a cheerful VTuber. Answer in one short sentence.")
HELLO = ChatMessage("user", "Hi! What is your name?")


@pytest.fixture(scope="module")
def chat() -> LocalLlamaChat:
    model = LocalLlamaChat(Settings().model_copy(update={"llm_context_window": 1024}))
    model.count_tokens("warm up")  # loads the model once for the module
    return model


def test_streams_a_persona_reply_as_deltas(chat: LocalLlamaChat) -> None:
    deltas = list(chat.stream_chat([PERSONA, HELLO], max_tokens=24, temperature=0.7, seed=42))
    assert len(deltas) > 1
    assert all(isinstance(delta, str) and delta for delta in deltas)
    assert "Hana" in "".join(deltas)


def test_same_seed_gives_the_same_text(chat: LocalLlamaChat) -> None:
    """Same seed, same prompt, same cache state: the same reply.

    From another cache state (the prompt prefix reused from the previous turn, or not) llama.cpp
    evaluates in other batch shapes and may round differently, so the reply can differ; the LLM
    stage does not rely on it: a redelivered reply is a new attempt that drops the older segments.
    """
    question = [PERSONA, ChatMessage("user", "Tell me about your favourite food.")]
    chat._model().llama.reset()
    first = "".join(chat.stream_chat(question, max_tokens=16, temperature=0.9, seed=1234))
    chat._model().llama.reset()
    second = "".join(chat.stream_chat(question, max_tokens=16, temperature=0.9, seed=1234))
    assert first == second
    assert first


def test_the_model_is_loaded_once_per_process(chat: LocalLlamaChat) -> None:
    other = LocalLlamaChat(Settings().model_copy(update={"llm_context_window": 1024}))
    loaded: list[object] = []

    def load() -> None:
        loaded.append(other._model().llama)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(llama) for llama in loaded}) == 1
    assert loaded[0] is chat._model().llama
    assert len(local_llama._models) == 1


def test_count_tokens_uses_the_model_tokenizer(chat: LocalLlamaChat) -> None:
    assert chat.count_tokens("") == 0
    short, long = chat.count_tokens("Hello"), chat.count_tokens("Hello there, how was your day today?")
    assert 1 <= short < long <= 12
    assert chat.count_tokens("안녕하세요, 반갑습니다") > 3


def test_prompt_larger_than_the_context_is_a_bad_request(chat: LocalLlamaChat) -> None:
    huge = ChatMessage("user", "word " * 2000)
    with pytest.raises(StageError) as raised:
        list(chat.stream_chat([PERSONA, huge], max_tokens=8, temperature=0.0))
    assert raised.value.code == ErrorCode.llm_bad_request


def test_missing_model_file_fails_clearly() -> None:
    chat = LocalLlamaChat(Settings().model_copy(update={"llm_local_model": "/nonexistent/model.gguf"}))
    with pytest.raises(StageError) as raised:
        list(chat.stream_chat([HELLO], max_tokens=4, temperature=0.0))
    assert raised.value.code == ErrorCode.llm_failed
    assert "does not exist" in raised.value.message
