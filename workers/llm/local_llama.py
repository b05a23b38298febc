"""The offline chat backend: a GGUF model run by llama.cpp inside the worker process.

One ``Llama`` object is kept per process and model file: loading costs seconds, and llama.cpp
reuses the KV cache for a prompt prefix it has just seen (the persona's system prompt), which cuts
the first-token time of the next turn from about a second to under 0.1 s. Reloading per task would
lose both.
"""

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from pipelines.backends import ChatMessage
from pipelines.errors import StageError
from pipelines.metrics import MODEL_LOAD_SECONDS
from pipelines.settings import Settings
from schemas.errors import ErrorCode
from workers.assets import AssetError, llm_model_file
from workers.device import llama_gpu_layers


@dataclass
class _LoadedModel:
    llama: Any  # llama_cpp.Llama; imported lazily so this module imports without the runtime
    # A Llama object holds one KV cache and is not safe for concurrent generation.
    lock: threading.Lock = field(default_factory=threading.Lock)


_models: dict[tuple[Path, int, int, int], _LoadedModel] = {}
_load_lock = threading.Lock()


def _load(path: Path, n_ctx: int, n_threads: int, n_gpu_layers: int) -> _LoadedModel:
    """The process-wide model for these parameters, loaded on first use."""
    key = (path, n_ctx, n_threads, n_gpu_layers)
    with _load_lock:
        if key not in _models:
            from llama_cpp import Llama

            with MODEL_LOAD_SECONDS.labels("llm", "local").time():
                llama = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=n_threads,
                    n_gpu_layers=n_gpu_layers,
                    verbose=False,
                )
            _models[key] = _LoadedModel(llama)
        return _models[key]


def _context_overflow(exc: Exception) -> bool:
    return isinstance(exc, ValueError) and "context window" in str(exc)


class LocalLlamaChat:
    """ChatModel backed by llama-cpp-python, using the chat template stored in the GGUF."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _model(self) -> _LoadedModel:
        try:
            path = llm_model_file(self._settings.llm_local_model)
            return _load(
                path,
                self._settings.llm_context_window,
                self._settings.llm_threads or os.cpu_count() or 1,
                llama_gpu_layers(),
            )
        except AssetError as exc:
            raise StageError(ErrorCode.llm_failed, f"local LLM unavailable: {exc}") from exc
        except (ValueError, RuntimeError, OSError) as exc:  # llama.cpp refused the file
            raise StageError(ErrorCode.llm_failed, f"local LLM failed to load: {exc}") from exc

    def stream_chat(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        seed: int | None = None,
        model: str | None = None,
    ) -> Iterator[str]:
        """Yield reply deltas. ``model`` (an OpenAI fine-tune id) has no meaning here and is ignored.

        With a ``seed`` the same messages give the same text, so a redelivered task repeats itself.
        """
        loaded = self._model()
        payload = [{"role": m.role, "content": m.content} for m in messages]
        with loaded.lock:
            try:
                chunks = loaded.llama.create_chat_completion(
                    messages=payload,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    seed=seed,
                    repeat_penalty=self._settings.llm_repeat_penalty,
                    stream=True,
                )
                for chunk in chunks:
                    for choice in chunk["choices"]:
                        delta = choice["delta"].get("content")
                        if delta:
                            yield delta
            except (StageError, SoftTimeLimitExceeded):
                raise  # a time limit is the task layer's to report (stage_timeout), not a model error
            except Exception as exc:
                if _context_overflow(exc):
                    raise StageError(
                        ErrorCode.llm_bad_request, f"prompt does not fit the context window: {exc}"
                    ) from exc
                raise StageError(ErrorCode.llm_failed, f"local LLM generation failed: {exc}") from exc

    def count_tokens(self, text: str) -> int:
        """Tokens as this model's own tokenizer counts them (no BOS, special tokens as text)."""
        loaded = self._model()
        return len(loaded.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
