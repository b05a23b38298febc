"""A worker configuration whose language model dies with its process on a marked line.

Stands in for what no test can cause on demand in a real engine: a native crash or an OOM kill
on one particular input (llama.cpp segfaulting on a prompt, a CUDA abort). The task code, the
error policy and the broker are the production ones (``workers.runtime``); only the model is
replaced. Started by tests/e2e/test_stage_faults.py with
``celery -A tests.fakes.crashing_worker:app worker -Q llm``.
"""

import os
from collections.abc import Iterator

from pipelines.backends import ChatMessage
from workers import backends
from workers.runtime import app

CRASH_MARK = "please-crash-the-worker"
SAFE_REPLY = "[happy] I am still here!"


class CrashingChat:
    name = "crashing"

    def stream_chat(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        seed: int | None = None,
        model: str | None = None,
    ) -> Iterator[str]:
        if any(CRASH_MARK in message.content for message in messages):
            os._exit(139)  # as a segfault would: no exception, no cleanup, the process is gone
        yield SAFE_REPLY

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1


backends.pin("llm", CrashingChat())

__all__ = ["app"]
