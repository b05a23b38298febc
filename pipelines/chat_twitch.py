"""Read a Twitch channel's chat over IRC (TMI): irc.chat.twitch.tv:6697 with TLS.

Login: ``CAP REQ :twitch.tv/tags twitch.tv/commands`` (tags carry badges, bits and ids; commands
bring USERNOTICE and RECONNECT), ``PASS oauth:<token>`` and ``NICK <login>`` — or, read-only and
without a token, an anonymous ``justinfan<digits>`` nick — then ``JOIN #channel``. The server
PINGs about every five minutes and drops clients that do not PONG; it sends RECONNECT before a
restart (reconnect at once). Joins are limited per account (20 per 10 s for ordinary accounts):
``JoinLimiter`` holds every connector of a process to that. A lost connection is retried with
jittered exponential backoff; IRC replays nothing, so what was said while disconnected is gone.
"""

import asyncio
import ssl
import time
import zlib
from collections.abc import Awaitable, Callable

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from pipelines.chat_connector import Backoff, ConnectorEvents, PermanentFailure
from pipelines.chat_irc import IrcLine, MalformedLine, chat_message, parse_line
from pipelines.logging_setup import get_logger
from schemas.chat import ChatMessage, SourceState

log = get_logger(__name__)

JOIN_RATE = "20/10 seconds"
AUTH_FAILURES = ("Login authentication failed", "Improperly formatted auth")
BATCH_LINES = 200  # lines handed over at once when they arrive in a burst


class JoinLimiter:
    """Twitch's JOIN rate limit for one account, shared by the connectors of a process."""

    def __init__(self, rate: str = JOIN_RATE) -> None:
        self.item = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def wait(self, account: str) -> None:
        while not await self.limiter.hit(self.item, account):
            stats = await self.limiter.get_window_stats(self.item, account)
            await asyncio.sleep(max(0.05, stats.reset_time - time.time()))


class Reconnect(Exception):
    """The server asked for a reconnect, or the connection ended: connect again."""


class TwitchConnector:
    def __init__(
        self,
        *,
        source_id: str,
        channel: str,
        host: str,
        port: int,
        tls: bool,
        token: str | None,
        nick: str | None,
        joins: JoinLimiter,
        backoff: Backoff,
        idle_timeout_s: float = 360.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.source_id = source_id
        self.channel = "#" + channel.lstrip("#").lower()
        self.host, self.port, self.tls = host, port, tls
        self.token = token.removeprefix("oauth:") if token else None
        self.nick = (
            (nick or "").lower()
            if self.token
            else f"justinfan{zlib.crc32(source_id.encode()) % 89999 + 10000}"
        )
        self.joins = joins
        self.backoff = backoff
        self.idle_timeout_s = idle_timeout_s
        self.connect_timeout_s = connect_timeout_s

    async def run(self, events: ConnectorEvents) -> None:
        """Connect, read and reconnect until cancelled; PermanentFailure if the login is refused."""
        while True:
            await events.state(SourceState.connecting)
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        self.host, self.port, ssl=ssl.create_default_context() if self.tls else None
                    ),
                    self.connect_timeout_s,
                )
            except (OSError, TimeoutError) as exc:
                await self._wait_after(events, f"connect failed: {exc!r}")
                continue
            try:
                await self._session(reader, writer, events)
            except Reconnect as asked:
                log.info("twitch reconnecting", source_id=self.source_id, reason=str(asked))
                await events.state(SourceState.connecting, str(asked))
                await asyncio.sleep(self.backoff.next_delay() if "closed" in str(asked) else 0)
            except (OSError, TimeoutError) as exc:
                await self._wait_after(events, f"connection lost: {exc!r}")
            finally:
                writer.close()

    async def _wait_after(self, events: ConnectorEvents, error: str) -> None:
        log.warning("twitch chat unavailable", source_id=self.source_id, error=error)
        await events.state(SourceState.backoff, error)
        await asyncio.sleep(self.backoff.next_delay())

    async def _session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, events: ConnectorEvents
    ) -> None:
        def send(line: str) -> Awaitable[None]:
            writer.write(line.encode() + b"\r\n")
            return writer.drain()

        await send("CAP REQ :twitch.tv/tags twitch.tv/commands")
        if self.token:
            await send(f"PASS oauth:{self.token}")
        await send(f"NICK {self.nick}")
        batch: list[ChatMessage] = []
        while True:
            try:
                raw = await asyncio.wait_for(reader.readline(), self.idle_timeout_s)
            except TimeoutError as exc:  # not even a PING: the connection is dead
                raise Reconnect(f"no line for {self.idle_timeout_s:.0f} s (closed)") from exc
            if not raw:
                await self._flush(batch, events)
                raise Reconnect("the server closed the connection")
            await self._handle(raw, send, batch, events)
            if batch and (len(batch) >= BATCH_LINES or not reader_has_line(reader)):
                await self._flush(batch, events)

    async def _handle(
        self,
        raw: bytes,
        send: Callable[[str], Awaitable[None]],
        batch: list[ChatMessage],
        events: ConnectorEvents,
    ) -> None:
        try:
            line = parse_line(raw.decode("utf-8", errors="replace"))
            message = chat_message(line, self.source_id)
        except (MalformedLine, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            log.warning("malformed twitch line skipped", source_id=self.source_id, reason=str(exc)[:200])
            await events.malformed(str(exc)[:200])
            return
        if message is not None:
            batch.append(message)
            return
        await self._control(line, send, events)

    async def _control(
        self, line: IrcLine, send: Callable[[str], Awaitable[None]], events: ConnectorEvents
    ) -> None:
        if line.command == "PING":
            await send(f"PONG :{line.trailing or 'tmi.twitch.tv'}")
        elif line.command == "001":  # welcome: logged in
            await self.joins.wait(self.nick)
            await send(f"JOIN {self.channel}")
        elif line.command == "JOIN" and line.nick == self.nick and line.params[:1] == [self.channel]:
            self.backoff.reset()
            await events.state(SourceState.connected)
            log.info("twitch chat joined", source_id=self.source_id, channel=self.channel)
        elif line.command == "RECONNECT":
            raise Reconnect("the server asked for a reconnect")
        elif line.command == "NOTICE" and any(text in line.trailing for text in AUTH_FAILURES):
            raise PermanentFailure(f"twitch refused the login: {line.trailing}")

    async def _flush(self, batch: list[ChatMessage], events: ConnectorEvents) -> None:
        if batch:
            await events.messages(list(batch))
            batch.clear()


def reader_has_line(reader: asyncio.StreamReader) -> bool:
    """Whether a whole line is already buffered (a burst): keep batching instead of flushing."""
    buffered = getattr(reader, "_buffer", b"")
    return b"\n" in buffered
