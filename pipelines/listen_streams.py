"""The Redis side of a realtime listen: what the API socket and the STT worker serving it share.

A listen is a handful of keys under ``listen:<id>:``. The API appends the client's PCM frames to
``in`` (a stream) and relays ``out`` (a stream of JSON frames) back; the worker holds ``lease``
(refreshed every second) while it serves the listen, and records in ``checkpoint`` the input entry
after which its current utterance's audio begins. A worker that dies stops refreshing its lease; the
API sees ``lease`` gone after a claim (``claims`` has caught up with ``dispatches``) and sends the
listen task again: the next worker replays ``in`` from the checkpoint, so no utterance is lost.
Every key expires ``KEY_TTL_S`` after the API last touched it, so an abandoned listen leaves nothing.
"""

import json
import uuid
from dataclasses import dataclass
from typing import Any, cast

import redis
import redis.asyncio as aioredis
from celery import Celery
from pydantic import BaseModel

from pipelines.queues import TaskName, live_stt_queue
from pipelines.stt_routing import SttRouter
from pipelines.time_limits import TimeLimits

KEY_TTL_S = 600
CLIENT_TTL_S = 10  # the API refreshes it every second while its socket handler runs
OUTPUT_MAXLEN = 2000
INPUT_MAXLEN = 20_000  # a safety cap only: the worker trims what it no longer needs

END_BY_CLIENT = "end"  # the client sent {"type": "end"}
END_BY_DISCONNECT = "disconnect"  # the socket dropped: what was heard is still said
END_BY_REFUSAL = "refused"  # a bad frame closed the socket: speech in progress is dropped
END_BY_DEADLINE = "max_duration"

# Extend the lease only for its holder (a replaced worker must not keep a lease it lost).
_IF_HELD = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call({}) end return 0"
_REFRESH = _IF_HELD.format("'pexpire', KEYS[1], ARGV[2]")
_RELEASE = _IF_HELD.format("'del', KEYS[1]")
# XREAD's answer for one stream: [(stream, [(entry id, fields), ...])]
StreamEntries = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]


def new_listen_id() -> str:
    return uuid.uuid4().hex


class ListenKeys:
    def __init__(self, listen_id: str) -> None:
        self.listen_id = listen_id
        prefix = f"listen:{listen_id}:"
        self.meta = prefix + "meta"
        self.input = prefix + "in"
        self.output = prefix + "out"
        self.lease = prefix + "lease"
        self.client = prefix + "client"
        self.checkpoint = prefix + "checkpoint"

    def job(self, utterance: int) -> str:
        return f"listen:{self.listen_id}:job:{utterance}"

    def all(self) -> list[str]:
        return [self.meta, self.input, self.output, self.checkpoint]


@dataclass(frozen=True)
class ListenMeta:
    """Who listens, to what: fixed when the socket is admitted."""

    session_id: str
    owner: str
    persona: str
    persona_version: str
    language: str
    model: str
    interrupt: bool

    def fields(self) -> dict[str, str]:
        return {
            "session_id": self.session_id,
            "owner": self.owner,
            "persona": self.persona,
            "persona_version": self.persona_version,
            "language": self.language,
            "model": self.model,
            "interrupt": "1" if self.interrupt else "0",
            "dispatches": "0",
            "claims": "0",
            "done": "0",
        }

    @classmethod
    def parse(cls, raw: dict[bytes, bytes]) -> "ListenMeta":
        text = {k.decode(): v.decode() for k, v in raw.items()}
        return cls(
            session_id=text["session_id"],
            owner=text["owner"],
            persona=text["persona"],
            persona_version=text["persona_version"],
            language=text["language"],
            model=text["model"],
            interrupt=text["interrupt"] == "1",
        )


@dataclass(frozen=True)
class Checkpoint:
    """Where a worker resumes: after input entry ``after_id``, at ``sample`` of the listen's audio,
    with ``utterance`` the index of the next utterance."""

    after_id: str = "0"
    sample: int = 0
    utterance: int = 0


def frame_json(frame: BaseModel) -> str:
    return frame.model_dump_json()


class ListenChannel:
    """The worker's side (synchronous Redis)."""

    def __init__(self, client: redis.Redis, listen_id: str) -> None:
        self.client = client
        self.keys = ListenKeys(listen_id)
        self._refresh = client.register_script(_REFRESH)
        self._release = client.register_script(_RELEASE)

    def meta(self) -> ListenMeta | None:
        raw = self.client.hgetall(self.keys.meta)
        return ListenMeta.parse(raw) if raw else None  # type: ignore[arg-type]

    def done(self) -> bool:
        return self.client.hget(self.keys.meta, "done") == b"1"

    def claim(self, token: str, lease_s: float) -> bool:
        """Take the lease unless another worker holds it or the listen has ended."""
        if self.done() or not self.client.set(self.keys.lease, token, nx=True, px=int(lease_s * 1000)):
            return False
        self.client.hincrby(self.keys.meta, "claims", 1)
        return True

    def refresh(self, token: str, lease_s: float) -> bool:
        return bool(self._refresh(keys=[self.keys.lease], args=[token, int(lease_s * 1000)]))

    def release(self, token: str) -> None:
        self._release(keys=[self.keys.lease], args=[token])

    def client_present(self) -> bool:
        return bool(self.client.exists(self.keys.client))

    def read(self, after_id: str, *, count: int, block_ms: int) -> list[tuple[str, dict[bytes, bytes]]]:
        answer = cast(
            StreamEntries, self.client.xread({self.keys.input: after_id}, count=count, block=block_ms)
        )
        if not answer:
            return []
        [(_, entries)] = answer
        return [(entry_id.decode(), fields) for entry_id, fields in entries]

    def checkpoint(self) -> Checkpoint:
        raw = self.client.hgetall(self.keys.checkpoint)
        if not raw:
            return Checkpoint()
        text = {k.decode(): v.decode() for k, v in raw.items()}  # type: ignore[union-attr]
        return Checkpoint(text["after_id"], int(text["sample"]), int(text["utterance"]))

    def save(self, checkpoint: Checkpoint, *frames: BaseModel) -> None:
        """Record the checkpoint and send ``frames`` in one transaction: a worker replaced after a
        final went out resumes after it, and one replaced before sends it again (same utterance)."""
        with self.client.pipeline(transaction=True) as pipe:
            for frame in frames:
                pipe.xadd(self.keys.output, {"frame": frame_json(frame)}, maxlen=OUTPUT_MAXLEN)
            pipe.hset(
                self.keys.checkpoint,
                mapping={
                    "after_id": checkpoint.after_id,
                    "sample": checkpoint.sample,
                    "utterance": checkpoint.utterance,
                },
            )
            pipe.expire(self.keys.checkpoint, KEY_TTL_S)
            if checkpoint.after_id != "0":  # what comes before the checkpoint is never read again
                pipe.xtrim(self.keys.input, minid=checkpoint.after_id, approximate=True)
            pipe.execute()

    def emit(self, frame: BaseModel) -> None:
        self.client.xadd(self.keys.output, {"frame": frame_json(frame)}, maxlen=OUTPUT_MAXLEN)

    def job_id_for(self, utterance: int, candidate: str) -> str:
        """The job id of an utterance, the same for every worker that gets that far."""
        key = self.keys.job(utterance)
        self.client.set(key, candidate, nx=True, ex=KEY_TTL_S)
        stored = self.client.get(key)
        return stored.decode() if stored else candidate  # type: ignore[union-attr]

    def finish(self, frame: BaseModel) -> None:
        """The last frame, and the listen marked done so no worker claims it again."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.xadd(self.keys.output, {"frame": frame_json(frame)}, maxlen=OUTPUT_MAXLEN)
            pipe.hset(self.keys.meta, "done", "1")
            pipe.delete(self.keys.input)
            pipe.execute()


class ListenClientChannel:
    """The API socket's side (asyncio Redis)."""

    def __init__(self, client: aioredis.Redis, listen_id: str) -> None:
        self.client = client
        self.keys = ListenKeys(listen_id)

    async def open(self, meta: ListenMeta) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.meta, mapping=meta.fields())  # type: ignore[arg-type]
            pipe.set(self.keys.client, b"1", ex=CLIENT_TTL_S)
            for key in self.keys.all():
                pipe.expire(key, KEY_TTL_S)
            await pipe.execute()

    async def append(self, pcm: bytes) -> None:
        await self.client.xadd(self.keys.input, {"pcm": pcm}, maxlen=INPUT_MAXLEN, approximate=True)

    async def end(self, reason: str) -> None:
        await self.client.xadd(self.keys.input, {"end": reason})

    async def keep_alive(self) -> None:
        """The socket handler is still there; the listen's keys live on."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.client, b"1", ex=CLIENT_TTL_S)
            for key in self.keys.all():
                pipe.expire(key, KEY_TTL_S)
            await pipe.execute()

    async def read_output(self, after_id: str, *, block_ms: int) -> list[tuple[str, dict[str, Any]]]:
        answer = cast(
            StreamEntries, await self.client.xread({self.keys.output: after_id}, count=100, block=block_ms)
        )
        if not answer:
            return []
        [(_, entries)] = answer
        return [(entry_id.decode(), json.loads(fields[b"frame"])) for entry_id, fields in entries]

    async def worker_lost(self) -> bool:
        """A worker claimed the listen and its lease ran out before the listen ended."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hmget(self.keys.meta, ["dispatches", "claims", "done"])
            pipe.exists(self.keys.lease)
            (dispatches, claims, done), leased = await pipe.execute()
        if done == b"1" or leased or dispatches is None:
            return False
        return int(claims or 0) >= int(dispatches)

    async def count_dispatch(self) -> None:
        await self.client.hincrby(self.keys.meta, "dispatches", 1)


def dispatch_listen(celery: Celery, router: SttRouter, limits: TimeLimits, listen_id: str) -> None:
    """Send the listen task to a live STT queue (any worker of the pool may take it)."""
    queue = live_stt_queue(router.use_gpu())
    limit = limits.for_task(TaskName.listen)
    celery.send_task(
        TaskName.listen,
        args=[listen_id],
        queue=queue.value,
        ignore_result=True,
        soft_time_limit=limit.soft_s,
        time_limit=limit.hard_s,
    )
