"""At most N requests in flight to one speech server, over every worker: a Redis semaphore.

A GPT-SoVITS server synthesizes one request at a time and queues the rest, so a timeout measured by
a worker would include the wait behind other workers, and a retry would queue behind the request
it gave up on. Workers take a slot before they send. Each slot is a lease (a member of a sorted set
scored by its expiry, in Redis server time) so a worker that dies frees its slot when the lease
ends; a worker that gave up on a request keeps the lease until the server may be done with it.
"""

import time
import uuid
from dataclasses import dataclass

import redis

# Drop expired leases; take a slot if one is free (0), else answer the ms until the first expires.
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + 1000)
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(first[2]) - now)
"""
# Move a lease's expiry to now + ms, if the lease is still held (1) or not any more (0).
_EXTEND = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not score or tonumber(score) <= now then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + 1000)
return 1
"""
POLL_S = 0.05
MAX_POLL_S = 0.5


@dataclass
class Lease:
    """One slot, held until released or until it expires."""

    slots: "ServerSlots"
    token: str

    def hold_for(self, seconds: float) -> bool:
        """Keep the slot ``seconds`` from now (longer or shorter); False if it was already lost."""
        return bool(self.slots._extend(keys=[self.slots.key], args=[_ms(seconds), self.token]))

    def release(self) -> None:
        self.slots.client.zrem(self.slots.key, self.token)


class ServerSlots:
    """``limit`` slots for the server at ``server`` (its URL), shared by every process."""

    def __init__(self, client: redis.Redis, server: str, limit: int) -> None:
        if limit < 1:
            raise ValueError("a server needs at least one slot")
        self.client = client
        self.key = f"vtuber:server_slots:{server}"
        self.limit = limit
        self._acquire = client.register_script(_ACQUIRE)
        self._extend = client.register_script(_EXTEND)

    def acquire(self, lease_s: float, wait_s: float) -> Lease | None:
        """A lease of ``lease_s`` seconds, waiting up to ``wait_s`` for a free slot (None: none
        came free in time)."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + max(0.0, wait_s)
        delay = POLL_S
        while True:
            until_free_ms = int(self._acquire(keys=[self.key], args=[self.limit, _ms(lease_s), token]))
            if until_free_ms == 0:
                return Lease(self, token)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(left, delay, until_free_ms / 1000))
            delay = min(delay * 2, MAX_POLL_S)

    def holders(self) -> int:
        """Leases not yet expired (for tests and diagnostics)."""
        now_s, now_us = self.client.time()
        return int(self.client.zcount(self.key, f"({now_s * 1000 + now_us // 1000}", "+inf"))


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
