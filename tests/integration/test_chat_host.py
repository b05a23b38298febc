"""The chat worker's connector host with a fake Twitch chat, real Redis and the MongoDB-protocol server:
a burst is absorbed, sources are leased by one host at a time, a detached source is let go."""

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY

from pipelines.celery_app import make_celery
from pipelines.chat_selector import ChatSelector
from pipelines.chat_sources import attach, chat_messages, detach, get_source
from pipelines.jobs import new_id, utcnow
from pipelines.settings import Settings
from pipelines.stages.context import StageContext
from schemas.chat import ChatPlatform, SourceCreate
from tests.fakes.twitch_irc_fake import FakeTwitchIrc
from tests.fakes.youtube_chat_fake import FakeYouTubeLiveChat
from workers.chat_host import ChatHost

CHANNEL = "#hana_live"
INTERVAL_S = 0.3


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.02)


@pytest.fixture
def fake() -> Iterator[FakeTwitchIrc]:
    with FakeTwitchIrc() as server:
        yield server


@pytest.fixture
def host_settings(stage_context: StageContext, fake: FakeTwitchIrc) -> Settings:
    return stage_context.settings.model_copy(
        update={
            "chat_twitch_host": "127.0.0.1",
            "chat_twitch_port": fake.port,
            "chat_twitch_tls": False,
            "chat_select_interval_s": 0.1,
            "chat_lease_s": 2.0,
            "chat_min_reply_interval_s": INTERVAL_S,
            "chat_max_turns_in_flight": 1000,
        }
    )


@pytest.fixture
def start_host(host_settings: Settings) -> Iterator[Callable[[], ChatHost]]:
    hosts: list[ChatHost] = []

    def start() -> ChatHost:
        host = ChatHost(host_settings, make_celery(host_settings))
        host.start()
        hosts.append(host)
        return host

    yield start
    for host in hosts:
        host.stop()


def make_session(context: StageContext) -> str:
    session_id = new_id()
    context.storage.sessions.insert_one(
        {"_id": session_id, "owner": "k", "persona": "hana", "persona_version": "1", "created_at": utcnow()}
    )
    return session_id


def twitch_source(context: StageContext, session_id: str) -> str:
    doc = attach(
        context.storage, session_id, "k", SourceCreate(platform=ChatPlatform.twitch, channel=CHANNEL)
    )
    return str(doc["_id"])


def test_a_burst_of_a_thousand_lines_is_absorbed_and_answers_stay_fresh(
    stage_context: StageContext,
    rclient: redis.Redis,
    fake: FakeTwitchIrc,
    host_settings: Settings,
    start_host: Callable[[], ChatHost],
) -> None:
    session_id = make_session(stage_context)
    source_id = twitch_source(stage_context, session_id)
    start_host()
    fake.wait_for_joins(CHANNEL, 1)
    selector = ChatSelector(
        stage_context.storage, rclient, stage_context.events, stage_context.dispatcher, host_settings
    )
    lines = chat_messages(stage_context.storage)
    burst: list[dict[str, Any]] = []
    for n in range(999):
        text = "first!" if n % 10 == 0 else f"line {n}: what do you think about level {n % 37}?"
        burst.append({"user_id": str(1000 + n), "name": f"viewer{n}", "text": text})
    burst.insert(500, {"user_id": "7", "name": "Rich", "text": "bits for you", "bits": 500})
    received = REGISTRY.get_sample_value("vtuber_chat_lines_received_total", {"platform": "twitch"}) or 0.0
    fake.say_many(CHANNEL, burst)  # 1000 lines, as fast as the socket takes them

    def passes_until(check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 90
        while not check():
            assert time.monotonic() < deadline, f"waited 90 s for {what}"
            selector.run_pass(session_id)
            time.sleep(0.02)

    passes_until(lambda: lines.count_documents({"session_id": session_id}) == 1000, "the burst to be stored")
    paid_answered = {"session_id": session_id, "paid": True, "fate": "answered"}
    passes_until(lambda: lines.count_documents(paid_answered) == 1, "the paid line to be answered")
    fake.say(CHANNEL, user_id="2", name="Late", text="did you see my message after all that, Hana?")
    passes_until(
        lambda: (
            lines.count_documents(
                {"session_id": session_id, "text": {"$regex": "^did you see"}, "fate": "answered"}
            )
            == 1
        ),
        "the line said after the burst to be answered",
    )
    docs = list(lines.find({"session_id": session_id}))
    assert len(docs) == 1001 and not [d for d in docs if d["fate"] == "pending"]
    assert sum(d["reason"] == "duplicate" for d in docs) == 99  # "first!" 100 times: the first counts
    answered = sorted((d for d in docs if d["fate"] == "answered"), key=lambda d: d["decided_at"])
    for earlier, later in itertools.pairwise(answered):
        assert (later["decided_at"] - earlier["decided_at"]).total_seconds() >= INTERVAL_S
        if not later["paid"]:  # each unpaid answer is newer than the last: no backlog is worked off
            assert later["received_at"] > earlier["received_at"]
    # the line said after the burst is answered next: nothing of the burst was left queued before it
    assert answered[-1]["text"].startswith("did you see") and answered[-1]["viewer_id"] == "twitch:2"
    jobs = stage_context.storage.jobs.count_documents({"session_id": session_id})
    assert jobs == len(answered)
    source = get_source(stage_context.storage, source_id)
    assert source is not None and source["messages"] == 1001 and source["state"] == "connected"
    now_received = REGISTRY.get_sample_value("vtuber_chat_lines_received_total", {"platform": "twitch"})
    assert now_received == received + 1001


def test_one_host_holds_a_source_another_takes_it_over_and_a_detached_source_is_let_go(
    stage_context: StageContext, fake: FakeTwitchIrc, start_host: Callable[[], ChatHost]
) -> None:
    session_id = make_session(stage_context)
    source_id = twitch_source(stage_context, session_id)
    first, second = start_host(), start_host()
    fake.wait_for_joins(CHANNEL, 1)
    wait_for(lambda: bool(first.running) != bool(second.running), "exactly one host to hold the source")
    holder, other = (first, second) if first.running else (second, first)
    holder.stop()  # its worker stops: the lease is released (a dead worker's lapses after chat_lease_s)
    wait_for(lambda: source_id in other.running, "the other host to take the source over")
    wait_for(lambda: fake.joins == 2, "the other host's join")  # the holder's own join was the first
    detach(stage_context.storage, session_id, source_id)
    wait_for(lambda: not other.running and not fake.joined(CHANNEL), "the detached source to be let go")


def test_a_youtube_chat_is_polled_with_its_key_and_resumes_from_its_saved_page_token(
    stage_context: StageContext, rclient: redis.Redis, host_settings: Settings
) -> None:
    session_id = make_session(stage_context)
    with FakeYouTubeLiveChat(polling_interval_ms=50, page_size=2) as youtube:
        youtube.chats["live1"] = []
        for n in range(3):
            youtube.say("live1", channel_id=f"UC{n}", name=f"v{n}", text=f"hello {n}")
        settings = host_settings.model_copy(
            update={"chat_youtube_api_url": youtube.api_url, "chat_youtube_api_key": "yt-key"}
        )
        body = SourceCreate(platform=ChatPlatform.youtube, live_chat_id="live1")
        source_id = str(attach(stage_context.storage, session_id, "k", body)["_id"])
        missing = SourceCreate(platform=ChatPlatform.youtube, live_chat_id="live2", credentials_ref="NOT_SET")
        refused_id = str(attach(stage_context.storage, session_id, "k", missing)["_id"])
        host = ChatHost(settings, make_celery(settings))
        host.start()
        try:
            wait_for(
                lambda: (get_source(stage_context.storage, source_id) or {}).get("messages") == 3, "3 lines"
            )
            wait_for(
                lambda: (get_source(stage_context.storage, source_id) or {}).get("page_token") == "p3", "p3"
            )
        finally:
            host.stop()
        youtube.say("live1", channel_id="UC9", name="v9", text="said while no worker polled")
        host = ChatHost(settings, make_celery(settings))  # another worker, later
        host.start()
        try:
            wait_for(
                lambda: (get_source(stage_context.storage, source_id) or {}).get("messages") == 4, "the 4th"
            )
        finally:
            host.stop()
    assert {request.get("key") for request in youtube.requests} == {"yt-key"}
    tokens = [request.get("pageToken") for request in youtube.requests]
    assert tokens[:3] == [None, "p2", "p3"] and None not in tokens[1:]  # the second worker resumed at p3
    refused = get_source(stage_context.storage, refused_id)
    assert refused is not None and refused["state"] == "failed" and "NOT_SET" in refused["error"]
    selector = ChatSelector(
        stage_context.storage, rclient, stage_context.events, stage_context.dispatcher, settings
    )
    selector.run_pass(session_id)
    texts = sorted(
        doc["text"] for doc in chat_messages(stage_context.storage).find({"session_id": session_id})
    )
    assert texts == ["hello 0", "hello 1", "hello 2", "said while no worker polled"]  # each once
