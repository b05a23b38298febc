"""A late joiner's backlog on real Redis: the events of the turns still in progress, from each one's
job.queued, found in a fixed number of round trips however long the session's log is."""

import asyncio
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection

from api.event_feed import FeedEvent, turns_in_progress
from pipelines.events import EventLog, open_turns, session_stream
from pipelines.jobs import utcnow
from pipelines.settings import Settings
from schemas.events import EventType, JobEvent
from schemas.jobs import Stage

DAY_S = 86400.0


class CountingConnection(Connection):
    """Counts what the client sends: one call per command, or per pipeline (a round trip each)."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        await super().send_packed_command(command, check_health)


def newest_id(client: redis.Redis, session_id: str) -> str:
    newest: Any = client.xrevrange(session_stream(session_id), count=1)
    return str(newest[0][0].decode())


def emit(log: EventLog, session_id: str, job_id: str, type_: EventType, **fields: Any) -> str:
    return log.append(JobEvent(type=type_, job_id=job_id, session_id=session_id, at=utcnow(), **fields))


def finished_turn(log: EventLog, session_id: str, job_id: str) -> None:
    emit(log, session_id, job_id, EventType.job_queued)
    emit(log, session_id, job_id, EventType.stage_started, stage=Stage.llm)
    emit(log, session_id, job_id, EventType.job_completed, segments_total=0)


def backlog(settings: Settings, session_id: str) -> tuple[list[FeedEvent], str, int]:
    async def read() -> tuple[list[FeedEvent], str, int]:
        client = aioredis.Redis.from_url(settings.redis_url, connection_class=CountingConnection)
        try:
            await client.ping()  # the connection's own set-up commands are not the reader's
            CountingConnection.sent = 0
            events, end = await turns_in_progress(client, session_id, max_turn_age_s=DAY_S)
            return events, end, CountingConnection.sent
        finally:
            await client.aclose()

    return asyncio.run(read())


def test_backlog_holds_the_open_turns_from_their_start_in_three_round_trips(settings: Settings) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    log = EventLog(client, ttl_s=600)
    session_id = "a" * 28 + "0001"
    for n in range(150):  # a long history of finished turns the joiner must not hear again
        finished_turn(log, session_id, f"done{n}")
    emit(log, session_id, "slow", EventType.job_queued)
    emit(log, session_id, "slow", EventType.stage_started, stage=Stage.llm)
    finished_turn(log, session_id, "quick")  # started and ended while the slow one runs
    emit(log, session_id, "next", EventType.job_queued)
    for n in range(40):  # more open turns cost no more round trips
        emit(log, session_id, f"open{n}", EventType.job_queued)
    emit(log, session_id, "slow", EventType.stage_finished, stage=Stage.llm, seconds=1.0)
    newest = newest_id(client, session_id)

    events, end, round_trips = backlog(settings, session_id)

    assert end == newest
    assert round_trips == 3
    assert [(e.type, e.data.split('"job_id":"')[1].split('"')[0]) for e in events[:4]] == [
        ("job.queued", "slow"),
        ("stage.started", "slow"),
        ("job.queued", "next"),
        ("job.queued", "open0"),
    ]
    assert events[-1].type == "stage.finished" and events[-1].id == end
    assert len(events) == 2 + 1 + 40 + 1
    assert [e.id for e in events] == sorted(
        {e.id for e in events}, key=lambda i: tuple(map(int, i.split("-")))
    )
    assert b"quick" not in client.hkeys(open_turns(session_id))


def test_no_open_turn_means_no_backlog_and_the_live_log_starts_after_the_newest(settings: Settings) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    log = EventLog(client, ttl_s=600)
    session_id = "a" * 28 + "0002"
    finished_turn(log, session_id, "one")
    emit(log, session_id, "cut", EventType.job_queued)
    emit(log, session_id, "cut", EventType.job_interrupted)
    events, end, round_trips = backlog(settings, session_id)
    assert events == [] and round_trips == 1
    assert end == newest_id(client, session_id)
    assert client.hlen(open_turns(session_id)) == 0
    assert backlog(settings, "a" * 28 + "0003")[:2] == ([], "0-0")  # a session with no log yet


def test_a_stale_open_mark_older_than_the_turn_deadline_is_ignored(settings: Settings) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    log = EventLog(client, ttl_s=600)
    session_id = "a" * 28 + "0004"
    emit(log, session_id, "lost", EventType.job_queued)  # its end never came

    async def read(max_age_s: float) -> list[FeedEvent]:
        reader = aioredis.Redis.from_url(settings.redis_url)
        try:
            client.xadd(
                session_stream(session_id), {"type": "job.queued", "data": "{}"}, id="99999999999999-0"
            )
            return (await turns_in_progress(reader, session_id, max_turn_age_s=max_age_s))[0]
        finally:
            await reader.aclose()

    assert asyncio.run(read(3600.0)) == []  # the newest entry lies far in the future: "lost" is too old
