"""Choose each stage's model backend from settings; build it once per worker process.

Adding a backend is one module plus one line here and a value for its setting.
"""

import importlib
import threading
from typing import Any

from pipelines.backends import ChatModel, SpeechSynthesizer, SpeechToText
from pipelines.settings import Settings

STT_BACKENDS = {
    "faster_whisper": "workers.stt.faster_whisper_backend:FasterWhisperSTT",
    "openai_whisper": "workers.stt.openai_whisper_backend:OpenAIWhisperSTT",
}
LLM_BACKENDS = {
    "local": "workers.llm.local_llama:LocalLlamaChat",
    "openai": "workers.llm.openai_chat:OpenAIChat",
}
TTS_BACKENDS = {
    "piper": "workers.tts.piper_backend:PiperSynthesizer",
    "gpt_sovits": "workers.tts.gpt_sovits:GptSovitsSynthesizer",
}

_lock = threading.Lock()
_instances: dict[str, Any] = {}
_pinned: dict[str, Any] = {}  # kind -> instance, set by code only (benchmarks), never by settings


def _build(target: str, settings: Settings, **kwargs: Any) -> Any:
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)(settings, **kwargs)


def _cached(kind: str, target: str, settings: Settings, **kwargs: Any) -> Any:
    key = f"{kind}:{target}:{sorted(kwargs.items())}"
    with _lock:
        if key not in _instances:
            _instances[key] = _build(target, settings, **kwargs)
        return _instances[key]


def pin(kind: str, instance: Any) -> None:
    """Serve ``instance`` for ``kind`` (stt, llm, tts) in this process whatever the settings say.

    For a benchmark's own worker configuration (bench/instant_worker.py); production never calls it.
    """
    _pinned[kind] = instance


def speech_to_text(settings: Settings, model: str | None = None) -> SpeechToText:
    """The configured STT backend; ``model`` picks another allowed model (batch option)."""
    if "stt" in _pinned:
        return _pinned["stt"]
    target = STT_BACKENDS[settings.stt_backend]
    if model is None or model == settings.stt_model:
        return _cached("stt", target, settings)
    return _cached("stt", target, settings, model=model)


def chat_model(settings: Settings) -> ChatModel:
    if "llm" in _pinned:
        return _pinned["llm"]
    return _cached("llm", LLM_BACKENDS[settings.llm_backend], settings)


def speech_synthesizer(settings: Settings) -> SpeechSynthesizer:
    if "tts" in _pinned:
        return _pinned["tts"]
    return _cached("tts", TTS_BACKENDS[settings.tts_backend], settings)


def reset() -> None:
    """Forget built backends (a freshly forked worker process must build its own)."""
    with _lock:
        _instances.clear()
