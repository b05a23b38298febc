"""What every platform connector shares: where it reports, how it waits after a failure.

A connector (Twitch IRC, YouTube polling) is an asyncio coroutine that runs until cancelled: it
hands each batch of normalised lines to ``ConnectorEvents.messages`` and reports its state; the
chat worker's host (workers/chat_host.py) provides the events (Redis stream, source status).
"""

import random
from typing import Protocol

from schemas.chat import ChatMessage, SourceState


class PermanentFailure(RuntimeError):
    """The platform says this source will never work as configured (unknown chat, ended stream,
    refused credentials): stop trying until it is attached again."""


class ConnectorEvents(Protocol):
    async def messages(self, batch: list[ChatMessage]) -> None:
        """Lines received, in platform order; returns once they are durably queued."""

    async def state(self, state: SourceState, error: str | None = None) -> None:
        """The connection's state changed (with the error that caused it, if any)."""

    async def malformed(self, reason: str) -> None:
        """A platform line could not be read: logged and skipped, never fatal."""


class Backoff:
    """Exponential delays with full jitter between ``base_s`` and ``cap_s``; ``reset`` after a
    connection that worked, so one drop does not inherit the previous outage's long wait."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0
        self.rng = rng or random.Random()

    def next_delay(self, at_least_s: float = 0.0) -> float:
        ceiling = min(self.cap_s, self.base_s * 2**self.attempt)
        self.attempt += 1
        return max(at_least_s, ceiling / 2 + self.rng.uniform(0, ceiling / 2))

    def reset(self) -> None:
        self.attempt = 0
