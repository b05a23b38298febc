"""A fake of Twitch's chat IRC server (TMI) — the real irc.chat.twitch.tv cannot be reached from here.

Faithful to what a reader of chat sees (dev.twitch.tv/docs/chat/irc): ``CAP REQ`` is ACKed, ``PASS
oauth:<token>``/``NICK`` log in (a token outside ``tokens`` gets ``NOTICE * :Login authentication
failed`` and is disconnected; ``justinfan<digits>`` logs in anonymously), the 001-004 and MOTD
numerics follow, ``JOIN #channel`` is echoed with NAMES and ROOMSTATE. Chat lines are tagged
PRIVMSGs and USERNOTICEs (tags escaped as Twitch escapes them); the server PINGs, asks for
RECONNECT, and can drop every connection. Like the real server it replays nothing: a line said
while nobody is joined is lost.
"""

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Callable
from types import TracebackType

TAG_ESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}


def escape_tag(value: str) -> str:
    return "".join(TAG_ESCAPES.get(char, char) for char in value)


class Client:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.nick = ""
        self.token: str | None = None
        self.caps: set[str] = set()
        self.channels: set[str] = set()

    def send(self, line: str) -> None:
        self.writer.write(line.encode() + b"\r\n")


class FakeTwitchIrc:
    def __init__(self, tokens: set[str] | None = None) -> None:
        self.tokens = tokens or set()
        self.clients: list[Client] = []
        self.serving: set[asyncio.Task[None]] = set()
        self.received: list[str] = []  # every line clients sent, in order
        self.joins = 0
        self.ids = itertools.count(1)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> "FakeTwitchIrc":
        self.thread.start()
        server = self.call(lambda: asyncio.start_server(self.serve, "127.0.0.1", 0))
        assert isinstance(server, asyncio.Server)
        self.server = server
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self.server is not None:
                self.server.close()
            for client in list(self.clients):
                client.writer.transport.abort()
            for task in list(self.serving):
                task.cancel()
            await asyncio.gather(*self.serving, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    def __enter__(self) -> "FakeTwitchIrc":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def call(self, make: Callable[[], object]) -> object:
        """Run ``make()`` (a coroutine, or a plain call) on the server's loop and return its result."""

        async def run() -> object:
            result = make()
            if asyncio.iscoroutine(result):
                result = await result
            for client in list(self.clients):
                with contextlib.suppress(ConnectionError, OSError):
                    await client.writer.drain()
            return result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=30)

    # --- the protocol ---------------------------------------------------------------------------------
    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = Client(writer)
        self.clients.append(client)
        task = asyncio.current_task()
        if task is not None:
            self.serving.add(task)
            task.add_done_callback(self.serving.discard)
        try:
            while raw := await reader.readline():
                line = raw.decode().rstrip("\r\n")
                self.received.append(line)
                if not self.handle(client, line):
                    break
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            if client in self.clients:
                self.clients.remove(client)
            writer.close()

    def handle(self, client: Client, line: str) -> bool:
        command, _, rest = line.partition(" ")
        if command == "CAP":
            caps = rest.partition(":")[2].split()
            client.caps.update(caps)
            client.send(f":tmi.twitch.tv CAP * ACK :{' '.join(caps)}")
        elif command == "PASS":
            client.token = rest.removeprefix("oauth:")
        elif command == "NICK":
            client.nick = rest.strip().lower()
            anonymous = client.token is None and client.nick.startswith("justinfan")
            if not anonymous and client.token not in self.tokens:
                client.send(":tmi.twitch.tv NOTICE * :Login authentication failed")
                return False
            for number, text in (("001", "Welcome, GLHF!"), ("002", "Your host is tmi.twitch.tv")):
                client.send(f":tmi.twitch.tv {number} {client.nick} :{text}")
            client.send(f":tmi.twitch.tv 003 {client.nick} :This server is rather new")
            client.send(f":tmi.twitch.tv 004 {client.nick} :-")
            client.send(f":tmi.twitch.tv 375 {client.nick} :-")
            client.send(f":tmi.twitch.tv 372 {client.nick} :You are in a maze of twisty passages.")
            client.send(f":tmi.twitch.tv 376 {client.nick} :>")
        elif command == "JOIN":
            channel = rest.strip().lower()
            client.channels.add(channel)
            self.joins += 1
            nick = client.nick
            client.send(f":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN {channel}")
            client.send(f":{nick}.tmi.twitch.tv 353 {nick} = {channel} :{nick}")
            client.send(f":{nick}.tmi.twitch.tv 366 {nick} {channel} :End of /NAMES list")
            client.send(f"@emote-only=0;room-id=1;slow=0 :tmi.twitch.tv ROOMSTATE {channel}")
        return True

    def joined(self, channel: str) -> list[Client]:
        return [client for client in self.clients if channel in client.channels]

    def broadcast(self, channel: str, line: str) -> int:
        """Send ``line`` to every client joined to ``channel`` (how many there were)."""

        def send() -> int:
            targets = self.joined(channel)
            for client in targets:
                client.send(line)
            return len(targets)

        return int(self.call(send))  # type: ignore[call-overload]

    # --- what a test makes happen ---------------------------------------------------------------------
    def privmsg_line(
        self, channel: str, *, user_id: str, name: str, text: str, badges: str = "", bits: int = 0
    ) -> tuple[str, str]:
        message_id = f"msg-{next(self.ids):06d}"
        tags = {
            "badge-info": "",
            "badges": badges,
            "color": "#1E90FF",
            "display-name": name,
            "emotes": "",
            "first-msg": "0",
            "id": message_id,
            "mod": "1" if "moderator/" in badges else "0",
            "room-id": "1",
            "subscriber": "1" if "subscriber/" in badges else "0",
            "tmi-sent-ts": str(int(time.time() * 1000)),
            "turbo": "0",
            "user-id": user_id,
            "user-type": "",
        }
        if bits:
            tags["bits"] = str(bits)
        login = name.lower()
        rendered = ";".join(f"{key}={escape_tag(value)}" for key, value in tags.items())
        return message_id, f"@{rendered} :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG {channel} :{text}"

    def say(self, channel: str, **fields: object) -> str:
        message_id, line = self.privmsg_line(channel, **fields)  # type: ignore[arg-type]
        self.broadcast(channel, line)
        return message_id

    def say_many(self, channel: str, lines: list[dict[str, object]]) -> list[str]:
        """A burst: every line written before the server yields to its clients."""
        built = [self.privmsg_line(channel, **fields) for fields in lines]  # type: ignore[arg-type]

        def send() -> None:
            for client in self.joined(channel):
                for _, line in built:
                    client.send(line)

        self.call(send)
        return [message_id for message_id, _ in built]

    def usernotice(
        self, channel: str, *, user_id: str, name: str, notice: str, text: str = "", months: int = 1
    ) -> str:
        message_id = f"msg-{next(self.ids):06d}"
        system = f"{name} subscribed at Tier 1. They've subscribed for {months} months!"
        tags = {
            "badges": "subscriber/0",
            "display-name": name,
            "id": message_id,
            "login": name.lower(),
            "msg-id": notice,
            "msg-param-cumulative-months": str(months),
            "msg-param-sub-plan": "1000",
            "room-id": "1",
            "system-msg": system,
            "tmi-sent-ts": str(int(time.time() * 1000)),
            "user-id": user_id,
        }
        rendered = ";".join(f"{key}={escape_tag(value)}" for key, value in tags.items())
        trailing = f" :{text}" if text else ""
        self.broadcast(channel, f"@{rendered} :tmi.twitch.tv USERNOTICE {channel}{trailing}")
        return message_id

    def ping(self) -> None:
        def send() -> None:
            for client in self.clients:
                client.send("PING :tmi.twitch.tv")

        self.call(send)

    def ask_reconnect(self) -> None:
        """What Twitch does before a server restart: RECONNECT, then the connection closes."""

        def send() -> None:
            for client in list(self.clients):
                client.send(":tmi.twitch.tv RECONNECT")
                client.writer.close()

        self.call(send)

    def drop_all(self) -> None:
        """Cut every connection without a word (a network failure)."""

        def cut() -> None:
            for client in list(self.clients):
                transport = client.writer.transport
                transport.abort()

        self.call(cut)

    def wait_for_joins(self, channel: str, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.call(lambda: self.joined(channel))) < count:  # type: ignore[arg-type]
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} client(s) did not join {channel} within {timeout} s")
            time.sleep(0.02)
