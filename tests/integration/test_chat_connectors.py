"""The platform connectors against faithful fakes of Twitch IRC (TMI) and YouTube liveChatMessages.

The real services cannot be reached from here; tests/fakes/ speak their protocols. Each test runs
a connector on an asyncio loop and drives the fake from a thread, as the platform would.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
import pytest

from pipelines.chat_connector import Backoff, PermanentFailure
from pipelines.chat_twitch import JoinLimiter, TwitchConnector
from pipelines.chat_youtube import YouTubeConnector
from schemas.chat import ChatKind, ChatMessage, SourceState
from tests.fakes.twitch_irc_fake import FakeTwitchIrc
from tests.fakes.youtube_chat_fake import FakeYouTubeLiveChat

CHANNEL = "#hana_live"
CHAT = "Cg0KC2hhbmFfbGl2ZQ"
WAIT_S = 30.0


class Recorder:
    """What a connector reported: the host's role (workers/chat_host.py), kept in memory."""

    def __init__(self) -> None:
        self.lines: list[ChatMessage] = []
        self.states: list[tuple[SourceState, str | None]] = []
        self.malformed_reasons: list[str] = []

    async def messages(self, batch: list[ChatMessage]) -> None:
        self.lines.extend(batch)

    async def state(self, state: SourceState, error: str | None = None) -> None:
        self.states.append((state, error))

    async def malformed(self, reason: str) -> None:
        self.malformed_reasons.append(reason)

    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    def connected_count(self) -> int:
        return sum(state is SourceState.connected for state, _ in self.states)


async def until(check: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        await asyncio.sleep(0.01)


Connector = TwitchConnector | YouTubeConnector


def run_with(
    make: Callable[[httpx.AsyncClient], Connector], scenario: Callable[[Recorder], Awaitable[None]]
) -> Recorder:
    """Run the connector while ``scenario`` drives the fake; stop it when the scenario ends."""
    recorder = Recorder()

    async def main() -> None:
        async with httpx.AsyncClient() as client:
            await run_in(make(client), scenario, recorder)

    asyncio.run(main())
    return recorder


async def run_in(
    connector: Connector, scenario: Callable[[Recorder], Awaitable[None]], recorder: Recorder
) -> None:
    task = asyncio.create_task(connector.run(recorder))
    try:
        await scenario(recorder)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def off_loop(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Coroutine[Any, Any, Any]:
    """Drive the fake from a thread: the connector's loop keeps reading meanwhile."""
    return asyncio.to_thread(call, *args, **kwargs)


def twitch(fake: FakeTwitchIrc, token: str | None = None) -> TwitchConnector:
    return TwitchConnector(
        source_id="a" * 32,
        channel="Hana_Live",
        host="127.0.0.1",
        port=fake.port,
        tls=False,
        token=token,
        nick="hana_bot" if token else None,
        joins=JoinLimiter(),
        backoff=Backoff(base_s=0.05, cap_s=0.2),
    )


def test_twitch_logs_in_with_tags_reads_lines_subs_and_answers_pings() -> None:
    with FakeTwitchIrc(tokens={"s3cret"}) as fake:

        async def scenario(recorder: Recorder) -> None:
            await until(lambda: recorder.connected_count() == 1, "the join")
            await off_loop(fake.say, CHANNEL, user_id="11", name="Mika", text="hi Hana; how are you?")
            await off_loop(fake.say, CHANNEL, user_id="12", name="Rin", text="take my bits", bits=250)
            await off_loop(fake.usernotice, CHANNEL, user_id="13", name="Sora", notice="resub", months=7)
            await off_loop(fake.ping)
            await until(lambda: len(recorder.lines) == 3, "three lines")
            await until(lambda: "PONG :tmi.twitch.tv" in fake.received, "the PONG")

        recorder = run_with(lambda _: twitch(fake, token="oauth:s3cret"), scenario)
    login = fake.received[:4]
    assert login == [
        "CAP REQ :twitch.tv/tags twitch.tv/commands",
        "PASS oauth:s3cret",
        "NICK hana_bot",
        "JOIN #hana_live",
    ]
    hello, cheer, resub = recorder.lines
    assert (hello.viewer_id, hello.viewer_name, hello.text) == ("twitch:11", "Mika", "hi Hana; how are you?")
    assert cheer.kind is ChatKind.cheer and cheer.bits == 250 and cheer.paid
    assert resub.kind is ChatKind.subscription and "7 months" in resub.text


def test_twitch_reconnects_after_a_drop_and_a_reconnect_request_and_misses_nothing_offered() -> None:
    with FakeTwitchIrc() as fake:
        said: list[str] = []

        async def say(n: int) -> None:
            text = f"line {n}"
            await off_loop(fake.say, CHANNEL, user_id=str(100 + n), name=f"v{n}", text=text)
            said.append(text)

        async def scenario(recorder: Recorder) -> None:
            await until(lambda: recorder.connected_count() == 1, "the first join")
            for n in range(5):
                await say(n)
            await until(lambda: len(recorder.lines) == 5, "the lines before the drop")
            await off_loop(fake.drop_all)  # a network failure: no goodbye
            await until(lambda: recorder.connected_count() == 2, "the join after the drop")
            for n in range(5, 10):
                await say(n)
            await until(lambda: len(recorder.lines) == 10, "the lines after the drop")
            await off_loop(fake.ask_reconnect)  # a server restart announced
            await until(lambda: recorder.connected_count() == 3, "the join after RECONNECT")
            for n in range(10, 15):
                await say(n)
            await until(lambda: len(recorder.lines) == 15, "the lines after RECONNECT")

        recorder = run_with(lambda _: twitch(fake), scenario)
    assert recorder.texts() == said  # every line said while joined arrived, in order, once
    assert fake.received.count("JOIN #hana_live") == 3
    assert all(line.startswith("NICK justinfan") for line in fake.received if line.startswith("NICK"))
    assert not any(line.startswith("PASS") for line in fake.received)  # anonymous, read-only


def test_a_malformed_twitch_line_is_logged_and_skipped() -> None:
    with FakeTwitchIrc() as fake:

        async def scenario(recorder: Recorder) -> None:
            await until(lambda: recorder.connected_count() == 1, "the join")
            await off_loop(fake.say, CHANNEL, user_id="1", name="a", text="before")
            _, good = fake.privmsg_line(CHANNEL, user_id="2", name="b", text="broken")
            await off_loop(fake.broadcast, CHANNEL, good.replace(";user-id=2", ""))  # whose line?
            await off_loop(fake.broadcast, CHANNEL, "@id=x :a!a@a PRIVMSG")  # no channel, no text
            await off_loop(fake.say, CHANNEL, user_id="3", name="c", text="after")
            await until(lambda: len(recorder.lines) == 2, "the good lines")

        recorder = run_with(lambda _: twitch(fake), scenario)
    assert recorder.texts() == ["before", "after"]
    assert len(recorder.malformed_reasons) == 2
    assert recorder.connected_count() == 1  # no reconnect for a bad line


def test_twitch_refusing_the_token_is_a_permanent_failure() -> None:
    with FakeTwitchIrc(tokens={"good"}) as fake:
        connector = twitch(fake, token="bad")
        with pytest.raises(PermanentFailure, match="Login authentication failed"):
            asyncio.run(asyncio.wait_for(connector.run(Recorder()), WAIT_S))


def youtube(fake: FakeYouTubeLiveChat, client: httpx.AsyncClient, **options: Any) -> YouTubeConnector:
    return YouTubeConnector(
        source_id="b" * 32,
        live_chat_id=CHAT,
        api_url=fake.api_url,
        client=client,
        backoff=Backoff(base_s=0.05, cap_s=0.2),
        api_key="test-key",
        min_poll_s=0.0,
        quota_wait_s=0.3,
        **options,
    )


def test_youtube_pages_with_page_tokens_and_reads_super_chats_and_members() -> None:
    with FakeYouTubeLiveChat(polling_interval_ms=20, page_size=4) as fake:
        fake.chats[CHAT] = []
        for n in range(9):
            fake.say(CHAT, channel_id=f"UC{n}", name=f"viewer {n}", text=f"hello {n}", member=n == 0)
        fake.super_chat(
            CHAT, channel_id="UCrich", name="Rich", text="for the snacks", amount_micros=20_000_000
        )
        fake.new_member(CHAT, channel_id="UCnew", name="Newbie")

        async def scenario(recorder: Recorder) -> None:
            await until(lambda: len(recorder.lines) == 11, "every line over three pages")

        recorder = run_with(lambda client: youtube(fake, client), scenario)
    tokens = [request.get("pageToken") for request in fake.requests]
    assert tokens[:3] == [None, "p4", "p8"]  # each request continues from the last nextPageToken
    assert {request["key"] for request in fake.requests} == {"test-key"}
    assert {request["part"] for request in fake.requests} == {"snippet,authorDetails"}
    assert recorder.texts()[:9] == [f"hello {n}" for n in range(9)]
    assert recorder.lines[0].member and not recorder.lines[1].member
    paid, member = recorder.lines[9], recorder.lines[10]
    assert paid.kind is ChatKind.super_chat and paid.amount_micros == 20_000_000 and paid.currency == "USD"
    assert member.kind is ChatKind.subscription and member.viewer_id == "youtube:UCnew"


def test_youtube_backs_off_on_quota_and_errors_and_misses_nothing() -> None:
    """Errors answered mid-chat, a malformed item, then a new connector (another worker) taking over
    from the saved page token: every line exactly once, the bad one skipped."""
    with FakeYouTubeLiveChat(polling_interval_ms=20, page_size=3) as fake:
        fake.chats[CHAT] = []
        saved: list[str] = []

        async def save(token: str) -> None:
            saved.append(token)

        def say(n: int) -> None:
            fake.say(CHAT, channel_id=f"UC{n}", name=f"v{n}", text=f"line {n}")

        for n in range(4):
            say(n)

        async def first(recorder: Recorder) -> None:
            await until(lambda: len(recorder.lines) == 4, "the first lines")
            fake.fail_next(403, "quotaExceeded")
            fake.fail_next(403, "rateLimitExceeded")
            fake.fail_next(503, "backendError")
            for n in range(4, 8):
                await off_loop(say, n)
            fake.add_item(CHAT, {"id": "LCC.bad", "snippet": {"type": "textMessageEvent"}})  # no author
            await until(lambda: len(recorder.lines) == 8, "the lines after the errors")

        before = run_with(lambda client: youtube(fake, client, save_page_token=save), first)
        for n in range(8, 12):  # said while no connector polls
            say(n)
        after = run_with(
            lambda client: youtube(fake, client, page_token=saved[-1], save_page_token=save),
            lambda recorder: until(lambda: len(recorder.lines) == 4, "the lines said meanwhile"),
        )
    assert before.texts() + after.texts() == [f"line {n}" for n in range(12)]
    errors = [error or "" for state, error in before.states if state is SourceState.backoff]
    assert any("quotaExceeded" in e for e in errors) and any("rateLimitExceeded" in e for e in errors)
    assert any("503" in e for e in errors)
    assert len(before.malformed_reasons) == 1


def test_youtube_ended_chat_is_a_permanent_failure() -> None:
    with FakeYouTubeLiveChat() as fake:
        fake.chats[CHAT] = []
        fake.fail_next(403, "liveChatEnded")

        async def main() -> None:
            async with httpx.AsyncClient() as client:
                await asyncio.wait_for(youtube(fake, client).run(Recorder()), WAIT_S)

        with pytest.raises(PermanentFailure, match="liveChatEnded"):
            asyncio.run(main())
