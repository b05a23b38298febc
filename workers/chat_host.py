"""The chat worker's connector host: keeps each attached platform chat connected, in one process.

Why a host inside the worker, not a long-running Celery task per source: a connector holds a
socket (Twitch IRC) or a polling loop (YouTube) for hours and is idle almost always. As a Celery
task it would pin a pool slot for the whole stream, need its time limits switched off, and leave
the broker's redelivery (visibility timeout) to decide when a dead one is restarted. Here every
chat worker's main process runs one asyncio loop in a thread that holds many connectors at no cost,
and claims sources with Redis leases (``chat:lease:source:<id>``, renewed every
``chat_select_interval_s``, lapsing after ``chat_lease_s``): a worker that dies or hangs loses its
leases and another chat worker takes its sources over within ``chat_lease_s``, continuing a
YouTube chat from its saved page token. Scaling out is starting more chat workers.

What scales like the other stages is the selection: connectors XADD lines to the session's chat
stream and send ``chat.select_replies`` (debounced per session) to the ``chat`` queue, which any
chat worker's pool consumes (pipelines/chat_selector.py).
"""

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import httpx
import redis
import redis.asyncio as aioredis
from celery import Celery, bootsteps
from redis.exceptions import LockError, RedisError

from pipelines.chat_connector import Backoff, PermanentFailure
from pipelines.chat_erasure import expire_chat_lines
from pipelines.chat_metrics import CHAT_CONNECTOR_STATES, CHAT_LINES_MALFORMED, CHAT_LINES_RECEIVED
from pipelines.chat_sources import (
    all_sources,
    count_malformed,
    count_received,
    ensure_chat_indexes,
    get_source,
    resolve_secret,
    save_page_token,
    set_state,
)
from pipelines.chat_stream import append
from pipelines.chat_twitch import JoinLimiter, TwitchConnector
from pipelines.chat_youtube import YouTubeConnector
from pipelines.jobs import utcnow
from pipelines.logging_setup import get_logger
from pipelines.queues import TaskName
from pipelines.settings import Settings
from pipelines.storage import Storage
from schemas.chat import ChatMessage, ChatPlatform, SourceState

log = get_logger(__name__)


@dataclass
class Running:
    source_id: str
    session_id: str
    lease: Any  # redis.lock.Lock
    task: "asyncio.Task[None]"


class SourceEvents:
    """Where one source's connector reports: the session's chat stream and the source's status."""

    def __init__(self, host: "ChatHost", source: dict[str, Any]) -> None:
        self.host = host
        self.source_id = source["_id"]
        self.session_id = source["session_id"]
        self.platform = source["platform"]

    async def messages(self, batch: list[ChatMessage]) -> None:
        await append(self.host.aredis, self.session_id, batch, max_len=self.host.settings.chat_stream_max_len)
        CHAT_LINES_RECEIVED.labels(platform=self.platform).inc(len(batch))
        last = max((m.sent_at for m in batch if m.sent_at), default=None) or utcnow()
        await asyncio.to_thread(count_received, self.host.storage, self.source_id, len(batch), last)
        await asyncio.to_thread(self.host.nudge, self.session_id)

    async def state(self, state: SourceState, error: str | None = None) -> None:
        CHAT_CONNECTOR_STATES.labels(platform=self.platform, state=state.value).inc()
        await asyncio.to_thread(set_state, self.host.storage, self.source_id, state, error)

    async def malformed(self, reason: str) -> None:
        CHAT_LINES_MALFORMED.labels(platform=self.platform).inc()
        await asyncio.to_thread(count_malformed, self.host.storage, self.source_id, reason)


class ChatHost:
    def __init__(self, settings: Settings, celery: Celery) -> None:
        self.settings = settings
        self.celery = celery
        self.running: dict[str, Running] = {}
        self.joins = JoinLimiter()
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self.expired_at = -float("inf")

    # --- the thread ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread = threading.Thread(target=lambda: asyncio.run(self.main()), name="chat-host", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self.loop is not None and self.stopping is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between: already stopped
                self.loop.call_soon_threadsafe(self.stopping.set)
        if self.thread is not None:
            self.thread.join(timeout)

    async def main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        self.storage = Storage(self.settings)
        self.redis = redis.Redis.from_url(self.settings.redis_url, socket_timeout=10)
        self.aredis = aioredis.Redis.from_url(self.settings.redis_url, socket_timeout=10)
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=10.0))
        log.info("chat host started")
        try:
            while not self.stopping.is_set():
                try:
                    await asyncio.to_thread(ensure_chat_indexes, self.storage)
                    await self.reconcile()
                    await self.expire_old_lines()
                except Exception:  # MongoDB or Redis away: keep what runs, try again next round
                    log.exception("chat host round failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.settings.chat_select_interval_s)
        finally:
            for source_id in list(self.running):
                await self.drop(source_id)
            await self.http.aclose()
            await self.aredis.aclose()
            self.storage.close()
            log.info("chat host stopped")

    async def expire_old_lines(self) -> None:
        """Retention for lines no turn answered (answered ones go with their turns): every
        ``retention_interval_s`` while ``retention_transcripts_days`` is set."""
        days = self.settings.retention_transcripts_days
        now = time.monotonic()
        if not days or now - self.expired_at < self.settings.retention_interval_s:
            return
        self.expired_at = now
        cutoff = utcnow() - timedelta(days=days)
        if removed := await asyncio.to_thread(expire_chat_lines, self.storage, cutoff):
            log.info("old chat lines expired", removed=removed)

    # --- claiming sources ---------------------------------------------------------------------------
    async def reconcile(self) -> None:
        present = {doc["_id"]: doc for doc in await asyncio.to_thread(all_sources, self.storage)}
        for source_id, running in list(self.running.items()):
            if source_id not in present or running.task.done() or not await self.renew(running):
                await self.drop(source_id)
        for source_id, doc in present.items():
            if source_id in self.running or doc["state"] == SourceState.failed.value:
                continue
            if len(self.running) >= self.settings.chat_sources_per_worker:
                break
            lease = self.redis.lock(
                f"chat:lease:source:{source_id}", timeout=self.settings.chat_lease_s, thread_local=False
            )  # acquired, renewed and released from different threads of the loop's executor
            if await asyncio.to_thread(lease.acquire, blocking=False):
                self.launch(doc, lease)
        for session_id in {running.session_id for running in self.running.values()}:
            await asyncio.to_thread(self.nudge, session_id)

    async def renew(self, running: Running) -> bool:
        try:
            await asyncio.to_thread(running.lease.extend, self.settings.chat_lease_s, True)
            return True
        except (LockError, RedisError) as exc:
            log.warning("chat source lease lost", source_id=running.source_id, error=repr(exc))
            return False

    def launch(self, source: dict[str, Any], lease: Any) -> None:
        source_id = source["_id"]
        task = asyncio.create_task(self.run_source(source), name=f"chat-source-{source_id}")
        self.running[source_id] = Running(source_id, source["session_id"], lease, task)
        log.info("chat source claimed", source_id=source_id, platform=source["platform"])

    async def drop(self, source_id: str) -> None:
        running = self.running.pop(source_id)
        running.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running.task
        with contextlib.suppress(LockError, RedisError):
            await asyncio.to_thread(running.lease.release)

    async def run_source(self, source: dict[str, Any]) -> None:
        events = SourceEvents(self, source)
        try:
            connector = await self.connector(source)
            await connector.run(events)
        except PermanentFailure as exc:
            log.warning("chat source failed", source_id=source["_id"], error=str(exc))
            await events.state(SourceState.failed, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not take the other sources down; the next round restarts it
            log.exception("chat connector crashed", source_id=source["_id"])
            with contextlib.suppress(Exception):
                await events.state(SourceState.backoff, f"connector crashed: {exc!r}"[:300])

    async def connector(self, source: dict[str, Any]) -> TwitchConnector | YouTubeConnector:
        config = self.settings
        secret = resolve_secret(config, source.get("credentials_ref"))
        if source.get("credentials_ref") and secret is None:
            raise PermanentFailure(
                f"credentials_ref {source['credentials_ref']} names no secret on the chat worker"
            )
        backoff = Backoff(base_s=1.0, cap_s=config.chat_reconnect_max_s)
        if source["platform"] == ChatPlatform.twitch.value:
            return TwitchConnector(
                source_id=source["_id"],
                channel=source["channel"],
                host=config.chat_twitch_host,
                port=config.chat_twitch_port,
                tls=config.chat_twitch_tls,
                token=secret,
                nick=config.chat_twitch_nick,
                joins=self.joins,
                backoff=backoff,
            )
        stored = await asyncio.to_thread(get_source, self.storage, source["_id"]) or source
        oauth = secret.removeprefix("Bearer ").strip() if secret and secret.startswith("Bearer ") else None
        source_id = source["_id"]

        async def save(token: str) -> None:
            await asyncio.to_thread(save_page_token, self.storage, source_id, token)

        return YouTubeConnector(
            source_id=source_id,
            live_chat_id=source["live_chat_id"],
            api_url=config.chat_youtube_api_url,
            client=self.http,
            backoff=backoff,
            api_key=None if oauth else (secret or config.chat_youtube_api_key or None),
            oauth_token=oauth,
            page_token=stored.get("page_token"),
            save_page_token=save,
            quota_wait_s=config.chat_youtube_quota_wait_s,
        )

    # --- selection ----------------------------------------------------------------------------------
    def nudge(self, session_id: str) -> None:
        """Send a selection pass for the session, at most once per ``chat_select_interval_s``."""
        due_ms = max(1, int(self.settings.chat_select_interval_s * 1000))
        try:
            if self.redis.set(f"chat:select-due:{session_id}", 1, nx=True, px=due_ms):
                self.celery.send_task(TaskName.select_chat_replies.value, args=[session_id])
        except Exception as exc:  # the next round sends it again
            log.warning("chat selection not sent", session_id=session_id, error=repr(exc)[:200])


class ChatHostStep(bootsteps.StartStopStep):
    """Worker step: the host starts after the pool (so no pool process is forked with its thread
    running) and stops before it."""

    requires: ClassVar[set[str]] = {"celery.worker.components:Pool"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.host: ChatHost | None = None

    def start(self, worker: Any) -> None:
        from pipelines.settings import get_settings

        self.host = ChatHost(get_settings(), worker.app)
        self.host.start()

    def stop(self, worker: Any) -> None:
        if self.host is not None:
            self.host.stop()
            self.host = None

    shutdown = stop


def install(app: Celery) -> None:
    app.steps["worker"].add(ChatHostStep)
