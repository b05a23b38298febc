"""Per-key rate limits in Redis (the ``limits`` library, moving windows), shared by every API
process: a general request rate and a stricter one for submitting work."""

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from api.errors import ApiError
from pipelines.settings import Settings
from schemas.errors import ErrorCode

log = logging.getLogger(__name__)


class KeyRateLimits:
    def __init__(self, settings: Settings) -> None:
        storage = RedisStorage(
            f"async+{settings.redis_url}", implementation="redispy", key_prefix="ratelimit"
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._requests: RateLimitItem = parse(settings.rate_limit)
        self._submits: RateLimitItem = parse(settings.submit_rate_limit)

    async def request(self, key_id: str) -> None:
        await self._hit(self._requests, key_id, "requests")

    async def submit(self, key_id: str) -> None:
        await self._hit(self._submits, key_id, "submissions")

    async def _hit(self, item: RateLimitItem, key_id: str, what: str) -> None:
        try:
            if await self._limiter.hit(item, key_id, what):
                return
        except RedisError as exc:  # fail open: reads from MongoDB still work while Redis is away
            log.warning("rate limit not checked, Redis unavailable: %r", exc)
            return
        reset_at, _ = await self._limiter.get_window_stats(item, key_id, what)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise ApiError(
            ErrorCode.rate_limited,
            f"too many {what} for this key ({item}); retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
