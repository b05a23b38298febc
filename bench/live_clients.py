"""How the benchmark watches a turn: as an SSE client, a 10 ms polling client, a long-poll client.

Each observer returns when it saw the turn end: when the first segment's audio became visible to
it, when the turn ended, the reply's audio length, and for each segment how long after it was
stored the client saw it (delivery delay; the same machine's clock on both sides).
"""

import asyncio
import json
import queue
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from httpx_sse import connect_sse


@dataclass
class Observed:
    first_audio_s: float
    end_s: float
    audio_s: float
    delivery_s: list[float] = field(default_factory=list)

    @property
    def reply_time_per_audio_s(self) -> float:
        return self.end_s / self.audio_s if self.audio_s else float("nan")


def stored_at(segment: dict[str, Any]) -> float:
    return datetime.fromisoformat(segment["timings"]["tts"]["finished_at"]).timestamp()


def submit(client: httpx.Client, session: str, *, text: str | None, audio: bytes | None) -> str:
    if audio is not None:
        response = client.post(
            f"/v1/sessions/{session}/utterances", files={"audio": ("u.wav", audio, "audio/wav")}
        )
    else:
        response = client.post(f"/v1/sessions/{session}/utterances", json={"text": text})
    response.raise_for_status()
    return str(response.json()["job_id"])


def observe_sse(client: httpx.Client, job_id: str, started: float) -> Observed:
    first: float | None = None
    audio_s = 0.0
    delays: list[float] = []
    with connect_sse(client, "GET", f"/v1/jobs/{job_id}/events") as source:
        for event in source.iter_sse():
            if not event.data:
                continue  # a keep-alive ping: httpx_sse, unlike browsers, dispatches it once an id was seen
            now, wall = time.perf_counter(), time.time()
            data = json.loads(event.data)
            if event.event == "segment.audio_ready":
                first = first if first is not None else now - started
                delays.append(wall - stored_at(data["segment"]))
                audio_s += data["segment"]["duration_s"]
            elif event.event == "job.failed":
                raise RuntimeError(f"job {job_id} failed: {data['error']}")
            elif event.event == "job.completed":
                return Observed(first or now - started, now - started, audio_s, delays)
    raise RuntimeError(f"the event stream of job {job_id} ended before the job did")


def observe_polling(client: httpx.Client, job_id: str, started: float, interval_s: float = 0.01) -> Observed:
    first: float | None = None
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        now = time.perf_counter()
        if first is None and any(s.get("audio_url") for s in job["segments"]):
            first = now - started
        if job["status"] == "failed":
            raise RuntimeError(f"job {job_id} failed: {job['error']}")
        if job["status"] == "completed":
            audio_s = sum(s["duration_s"] for s in job["segments"])
            return Observed(first or now - started, now - started, audio_s)
        time.sleep(interval_s)


def observe_long_poll(client: httpx.Client, job_id: str, started: float) -> Observed:
    first: float | None = None
    seen: set[int] = set()
    delays: list[float] = []
    version: str | None = None
    while True:
        params: dict[str, str | int] = {"wait": 30, "since": version} if version else {}
        job = client.get(f"/v1/jobs/{job_id}", params=params).json()
        now, wall = time.perf_counter(), time.time()
        version = job["version"]
        for segment in job["segments"]:
            if segment.get("audio_url") and segment["index"] not in seen:
                seen.add(segment["index"])
                delays.append(wall - stored_at(segment))
                first = first if first is not None else now - started
        if job["status"] == "failed":
            raise RuntimeError(f"job {job_id} failed: {job['error']}")
        if job["status"] == "completed":
            audio_s = sum(s["duration_s"] for s in job["segments"])
            return Observed(first or now - started, now - started, audio_s, delays)


class SessionFollower:
    """A background SSE client on a session's stream: when did each job complete, by our clock."""

    def __init__(self, base_url: str, session: str, headers: dict[str, str]) -> None:
        self.completed: queue.Queue[tuple[str, float]] = queue.Queue()
        self._ready = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(base_url, session, headers), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the session event stream did not open")

    def _run(self, base_url: str, session: str, headers: dict[str, str]) -> None:
        try:
            with (
                httpx.Client(base_url=base_url, timeout=None, headers=headers) as client,
                connect_sse(client, "GET", f"/v1/sessions/{session}/events") as source,
            ):
                self._ready.set()
                for event in source.iter_sse():
                    if self._stop:
                        return
                    if event.event in ("job.completed", "job.failed"):
                        self.completed.put((json.loads(event.data)["job_id"], time.perf_counter()))
        except httpx.TransportError:
            if not self._stop:  # the stack going down after stop() is expected; before it is not
                raise

    def wait_for(self, job_id: str, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while True:
            seen, at = self.completed.get(timeout=max(0.01, deadline - time.monotonic()))
            if seen == job_id:
                return at

    def stop(self) -> None:
        self._stop = True


async def _hammer(
    host: str, port: int, path: str, headers: dict[str, str], seconds: float, latencies: list[float]
) -> None:
    """One keep-alive connection sending GETs back to back (a raw client: the load generator
    shares the 2 cores with the server, so it must cost far less than what it measures)."""
    reader, writer = await asyncio.open_connection(host, port)
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
    deadline = time.perf_counter() + seconds
    try:
        while (started := time.perf_counter()) < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


def poll_throughput(
    host: str, port: int, path: str, *, headers: dict[str, str], clients: int, seconds: float
) -> dict[str, float]:
    """Requests per second and latency of GET ``path`` (with ``headers``: the API key)."""
    latencies: list[float] = []

    async def run() -> None:
        polls = (_hammer(host, port, path, headers, seconds, latencies) for _ in range(clients))
        await asyncio.gather(*polls)

    started = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "req_per_s": len(ordered) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000,
    }
