"""Chat through the OpenAI API, or any server that speaks its chat-completions protocol.

Retries are ours, not the ``openai`` client's (it is built with ``max_retries=0``) for two reasons:
its built-in loop also retries ``429 insufficient_quota``, a state that no retry fixes, and it
cannot retry a stream that stalls or breaks after the headers arrived. Our loop retries 429 rate
limits (honouring ``Retry-After``), 5xx, timeouts and connection errors with exponential backoff,
but only until the first token has been yielded: after that the caller has already passed text
downstream (to TTS), so a silent re-generation would duplicate or contradict it. A failure after
the first token ends the stream with a retryable ``StageError``, and the stage restarts the turn.

The reply's length limit goes out as ``max_completion_tokens`` to the official API (every chat
model there takes it; reasoning models refuse ``max_tokens``) and as ``max_tokens`` to compatible
servers, which know that name best. A server that answers 400 ``unsupported_parameter`` for the
name, or ``unsupported_value`` for a temperature other than its default, is asked again at once
without it; the process remembers, so only its first turn pays the extra request.
"""

import email.utils
import hashlib
import logging
import math
import os
import random
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import openai
from openai.types.chat import ChatCompletionMessageParam

from pipelines.backends import ChatMessage
from pipelines.errors import StageError
from pipelines.settings import Settings
from schemas.errors import ErrorCode

log = logging.getLogger(__name__)

# Local OpenAI-compatible servers (llama.cpp, Ollama, vLLM) ignore the key, but the client needs one.
PLACEHOLDER_API_KEY = "sk-no-key-required"
CONNECT_TIMEOUT_S = 10.0
# A longer Retry-After is not slept through inside a task: the task layer retries later instead.
MAX_RETRY_AFTER_S = 60.0
MAX_BACKOFF_S = 8.0


class OpenAIChat:
    """ChatModel for the OpenAI chat completions API (streaming)."""

    name = "openai"

    def __init__(
        self,
        settings: Settings,
        client: openai.OpenAI | None = None,
        *,
        backoff_base_s: float = 0.5,
    ) -> None:
        self._settings = settings
        self._backoff_base_s = backoff_base_s
        self._client = client
        self._token_counter = TokenCounter(settings.openai_model)
        self._limit_name = "max_tokens" if settings.openai_base_url else "max_completion_tokens"
        self._models_without_temperature: set[str] = set()

    def _get_client(self) -> openai.OpenAI:
        if self._client is None:
            settings = self._settings
            if not settings.openai_api_key and not settings.openai_base_url:
                raise StageError(
                    ErrorCode.llm_auth, "VTUBER_OPENAI_API_KEY is not set (needed for the official API)"
                )
            self._client = openai.OpenAI(
                api_key=settings.openai_api_key or PLACEHOLDER_API_KEY,
                base_url=settings.openai_base_url or None,
                # Read timeout applies between received bytes: a stalled stream ends with it.
                timeout=openai.Timeout(
                    settings.openai_timeout_s, connect=min(CONNECT_TIMEOUT_S, settings.openai_timeout_s)
                ),
                max_retries=0,
            )
        return self._client

    def stream_chat(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        seed: int | None = None,
        model: str | None = None,
    ) -> Iterator[str]:
        """Yield reply deltas; ``model`` overrides the configured model (a persona's fine-tune)."""
        client = self._get_client()
        model_id = model or self._settings.openai_model
        # Plain string content: some compatible servers mis-render list-of-parts content.
        payload: list[ChatCompletionMessageParam] = [
            {"role": m.role, "content": m.content}  # type: ignore[misc]
            for m in messages
        ]
        max_retries = max(0, self._settings.openai_max_retries)
        attempt = 0
        while True:
            started = False
            try:
                stream = client.chat.completions.create(
                    model=model_id,
                    messages=payload,
                    stream=True,
                    temperature=openai.omit if model_id in self._models_without_temperature else temperature,
                    seed=seed if seed is not None else openai.omit,
                    max_tokens=max_tokens if self._limit_name == "max_tokens" else openai.omit,
                    max_completion_tokens=(
                        max_tokens if self._limit_name == "max_completion_tokens" else openai.omit
                    ),
                )
                with stream:
                    for chunk in stream:
                        for choice in chunk.choices[:1]:
                            delta = choice.delta.content if choice.delta else None
                            if delta:
                                started = True
                                yield delta
                return
            except openai.BadRequestError as exc:
                if started or not self._adapted_to(exc, model_id):
                    raise to_stage_error(exc) from exc
            except openai.OpenAIError as exc:
                error = to_stage_error(exc)
                delay = None if started else self._retry_delay(exc, attempt, max_retries)
                if delay is None:
                    raise error from exc
                log.warning("LLM call failed (%s); retry %d in %.2f s", error.message, attempt + 1, delay)
                time.sleep(delay)
                attempt += 1

    def _adapted_to(self, exc: openai.BadRequestError, model_id: str) -> bool:
        """Whether a 400 named a parameter this server does not take, now left out (ask again)."""
        if exc.code == "unsupported_parameter" and exc.param == self._limit_name:
            other = "max_completion_tokens" if self._limit_name == "max_tokens" else "max_tokens"
            log.warning("the LLM server refuses %s; sending %s", self._limit_name, other)
            self._limit_name = other
            return True
        refused_temperature = exc.code == "unsupported_value" and exc.param == "temperature"
        if refused_temperature and model_id not in self._models_without_temperature:
            log.warning("model %s takes only its default temperature", model_id)
            self._models_without_temperature.add(model_id)
            return True
        return False

    def _retry_delay(self, exc: openai.OpenAIError, attempt: int, max_retries: int) -> float | None:
        """Seconds to wait before the next attempt, or None when this error must not be retried."""
        if attempt >= max_retries or not _is_transient(exc):
            return None
        if isinstance(exc, openai.APIStatusError):
            retry_after = parse_retry_after(exc.response.headers)
            if retry_after is not None:
                return retry_after if retry_after <= MAX_RETRY_AFTER_S else None
        backoff = min(self._backoff_base_s * 2.0**attempt, MAX_BACKOFF_S)
        return backoff * (1.0 - 0.25 * random.random())

    def count_tokens(self, text: str) -> int:
        return self._token_counter.count(text)


def _is_transient(exc: openai.OpenAIError) -> bool:
    if isinstance(exc, openai.RateLimitError):
        return not _is_quota(exc)
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= 500 or exc.status_code in (408, 409)
    # Timeouts and connection errors (APITimeoutError is an APIConnectionError).
    return isinstance(exc, openai.APIConnectionError)


def _is_quota(exc: openai.APIError) -> bool:
    return "insufficient_quota" in (exc.code, exc.type)


def to_stage_error(exc: openai.OpenAIError) -> StageError:
    """The job error code for a final failure of the OpenAI client."""
    detail = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, openai.APITimeoutError):
        return StageError(ErrorCode.llm_timeout, f"LLM request timed out: {detail}", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return StageError(ErrorCode.llm_failed, f"cannot reach the LLM server: {detail}", retryable=True)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return StageError(ErrorCode.llm_auth, f"LLM authentication failed: {detail}")
    if isinstance(exc, openai.RateLimitError):
        if _is_quota(exc):
            return StageError(ErrorCode.llm_quota, f"LLM quota exhausted: {detail}")
        return StageError(ErrorCode.llm_rate_limited, f"LLM rate limited: {detail}", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500 or exc.status_code in (408, 409):
            return StageError(ErrorCode.llm_failed, f"LLM server error: {detail}", retryable=True)
        return StageError(ErrorCode.llm_bad_request, f"LLM rejected the request: {detail}")
    if isinstance(exc, openai.APIError):  # an error event inside the stream
        return StageError(ErrorCode.llm_failed, f"LLM stream error: {detail}", retryable=True)
    return StageError(ErrorCode.llm_failed, f"LLM client error: {detail}")


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), if present."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            parsed = email.utils.parsedate_tz(value) if divisor == 1.0 else None
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


class TokenCounter:
    """tiktoken's count when its BPE file is already cached on disk; otherwise an estimate.

    tiktoken downloads BPE files on first use; workers must never download at run time, so the
    file is used only if the cache (``TIKTOKEN_CACHE_DIR``, as tiktoken resolves it) already holds
    it. The estimate is ``ceil(ASCII chars / 4) + other chars``: about right for English, and on
    the high side for CJK (about one token per character or more), so trimming errs towards fewer
    turns rather than an overflow.
    """

    def __init__(self, model: str) -> None:
        self._model = model
        self._encoding: object | None = None
        self._resolved = False

    def _load(self) -> object | None:
        try:
            import tiktoken
        except ImportError:
            return None
        try:
            name = tiktoken.encoding_name_for_model(self._model)
        except KeyError:
            return None  # not an OpenAI model (e.g. a local server's): its tokenizer is unknown here
        if not _tiktoken_file_cached(name):
            return None
        try:
            return tiktoken.get_encoding(name)
        except Exception as exc:  # a corrupt cache file would make tiktoken try to download
            log.warning("tiktoken %s unusable (%s); estimating token counts", name, exc)
            return None

    def count(self, text: str) -> int:
        if not self._resolved:
            self._encoding = self._load()
            self._resolved = True
        if self._encoding is not None:
            return len(self._encoding.encode(text, disallowed_special=()))  # type: ignore[attr-defined]
        return estimate_tokens(text)


def estimate_tokens(text: str) -> int:
    ascii_chars = sum(1 for char in text if char.isascii())
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


def _tiktoken_file_cached(encoding_name: str) -> bool:
    """Whether tiktoken would read ``encoding_name`` from its cache rather than the network.

    Mirrors tiktoken's own cache lookup (``tiktoken.load.read_file_cached``); an empty
    ``TIKTOKEN_CACHE_DIR`` disables its cache, so nothing counts as cached then.
    """
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return False
    url = f"https://openaipublic.blob.core.windows.net/encodings/{encoding_name}.tiktoken"
    return (Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()).is_file()
