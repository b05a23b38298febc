"""What the connectors share: jittered backoff, and Twitch's JOIN rate limit for one account."""

import asyncio
import random

from pipelines.chat_connector import Backoff
from pipelines.chat_twitch import JoinLimiter


def test_backoff_doubles_with_jitter_up_to_its_cap_and_starts_over_after_a_reset() -> None:
    backoff = Backoff(base_s=1.0, cap_s=8.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(ceiling / 2 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))
    assert backoff.next_delay(at_least_s=900.0) == 900.0  # quotaExceeded: wait at least this long
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_joins_beyond_the_accounts_rate_wait_for_the_window() -> None:
    async def scenario() -> tuple[bool, bool]:
        joins = JoinLimiter("3/10 seconds")
        for _ in range(3):
            await asyncio.wait_for(joins.wait("hana_bot"), 1)  # within the limit: at once
        fourth = asyncio.create_task(joins.wait("hana_bot"))
        await asyncio.sleep(0.2)
        held = not fourth.done()
        fourth.cancel()
        other_account = await joins.limiter.test(joins.item, "another_bot")
        return held, other_account

    held, other_account = asyncio.run(scenario())
    assert held and other_account
