"""kombu's Redis transport, with one Redis client per channel for sending instead of one per message.

kombu's Redis channel builds a new ``redis.Redis`` for every task message it sends and every task
event it publishes (``Channel.conn_or_acquire``): about 0.1 ms of CPU each, before any I/O, and a
live turn sends five tasks and about twenty events (Flower's). Reusing one client per channel
(a client is only a handle on the channel's connection pool, safe to share) made the bare four-hop
chain 1.4x faster and a two-segment turn's orchestration 11% cheaper on the 2-core bench machine
(bench/bench_turn_cost.py, measured one after the other).

``install`` (called by ``make_celery``) names this class for ``redis://`` and ``rediss://`` in
kombu's table of transports, the table kombu resolves a broker URL's scheme with: the URL, the
worker banner and Flower's queue view stay as they were. Sentinel keeps kombu's own channel.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from kombu.utils.objects import cached_property

SCHEMES = ("redis", "rediss")


class Channel(kombu_redis.Channel):
    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        yield client or self._sending_client

    @cached_property
    def _sending_client(self) -> Any:
        return self._create_client()

    def _disconnect_pools(self) -> None:
        """A new pool after this (a fork, a reconnect) gets a new client too."""
        self.__dict__.pop("_sending_client", None)
        super()._disconnect_pools()


class Transport(kombu_redis.Transport):
    Channel = Channel


def install() -> None:
    """Serve ``redis://`` and ``rediss://`` brokers with this transport, in this process."""
    for scheme in SCHEMES:
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
