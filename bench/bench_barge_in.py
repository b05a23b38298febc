"""Barge-in: how fast a cancelled turn goes quiet, and what CPU it still costs afterwards.

    python -m bench.bench_barge_in [--rounds 6]

On the embedded stack with the real models, each round asks for a long reply, waits until its
first segment's audio is announced (the viewer is listening), then cancels it:

- cancel → last event: from sending ``POST /v1/jobs/{id}/cancel`` to the SSE client receiving
  ``job.interrupted`` (the stream's last event), next to the cancel request's own round trip;
- events after the interruption (must be none) and segments voiced after the cancel was answered
  (at most the one whose synthesis was already running);
- CPU seconds the LLM and TTS workers spent in the 3 s after the cancel, next to the same window
  of a turn that was not cancelled and of idle workers, measured in the same run.
"""

import json
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from httpx_sse import connect_sse

from bench.bench_live_latency import BENCH_ENV, new_session
from tools.stack import Stack

LONG_QUESTION = "Tell me a long story about a dragon who learns to bake bread, with lots of details."
WINDOW_S = 3.0
CLOCK_TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


@dataclass
class Follower:
    """Reads one job's SSE stream in a thread, noting when each event arrived."""

    base_url: str
    headers: dict[str, str]
    job_id: str
    events: list[tuple[float, str]] = field(default_factory=list)
    first_audio: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "Follower":
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        with (
            httpx.Client(base_url=self.base_url, headers=self.headers, timeout=120) as client,
            connect_sse(client, "GET", f"/v1/jobs/{self.job_id}/events") as source,
        ):
            for event in source.iter_sse():
                if not event.data:
                    continue  # keep-alive
                self.events.append((time.perf_counter(), event.event))
                if event.event == "segment.audio_ready":
                    self.first_audio.set()
        self.ended.set()


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) used so far by every live process of a process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of /proc/<pid>/stat: the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


WORKERS = ("worker-llm", "worker-tts")


def cpu_over(stack: Stack, seconds: float) -> dict[str, float]:
    """CPU seconds each model worker (its whole process group) used over the next ``seconds``."""
    before = {name: group_cpu_s(stack.processes[name].pid) for name in WORKERS}
    time.sleep(seconds)
    return {name: round(group_cpu_s(stack.processes[name].pid) - before[name], 3) for name in WORKERS}


def one_round(client: httpx.Client, stack: Stack, *, cancel: bool) -> dict[str, Any]:
    session = new_session(client)
    accepted = client.post(f"/v1/sessions/{session}/utterances", json={"text": LONG_QUESTION})
    accepted.raise_for_status()
    job_id = accepted.json()["job_id"]
    follower = Follower(str(client.base_url), dict(client.headers), job_id).start()
    if not follower.first_audio.wait(300):  # the warm-up turn loads the models
        raise RuntimeError(f"no audio for job {job_id} within 300 s")
    result: dict[str, Any] = {}
    if cancel:
        sent = time.perf_counter()
        response = client.post(f"/v1/jobs/{job_id}/cancel", json={})
        answered, answered_wall = time.perf_counter(), time.time()
        response.raise_for_status()
        result["cancel_request_ms"] = (answered - sent) * 1000
        result["cpu_after_s"] = cpu_over(stack, WINDOW_S)
        if not follower.ended.wait(30):
            raise RuntimeError(f"the event stream of job {job_id} did not end after the cancel")
        final = [at for at, name in follower.events if name == "job.interrupted"]
        if not final:
            raise RuntimeError(f"job {job_id} ended without job.interrupted: {follower.events[-3:]}")
        result["cancel_to_last_event_ms"] = (final[0] - sent) * 1000
        result["events_after_interrupted"] = len([at for at, _ in follower.events if at > final[0]])
        job = client.get(f"/v1/jobs/{job_id}").json()
        result["segments_voiced_after_cancel"] = sum(
            1 for s in job["segments"] if s.get("audio_url") and stored_after(s, answered_wall)
        )
    else:
        result["cpu_after_s"] = cpu_over(stack, WINDOW_S)
        follower.ended.wait(180)
    return result


def stored_after(segment: dict[str, Any], wall_time: float) -> bool:
    """Whether the segment's audio was stored after ``wall_time`` (same machine, same clock)."""
    finished = (segment.get("timings") or {}).get("tts", {}).get("finished_at")
    return bool(finished) and datetime.fromisoformat(finished).timestamp() > wall_time


def main(rounds: int = typer.Option(6, help="measured cancelled turns, after one warm-up")) -> None:
    stack = Stack(run_dir=Path(tempfile.mkdtemp(prefix="vtuber-bench-barge-in-")), env=BENCH_ENV)
    stack.start()
    stack.wait_for_workers()
    try:
        with httpx.Client(base_url=stack.api_url, timeout=60, headers=stack.api_headers) as client:
            one_round(client, stack, cancel=False)  # warm-up: models loaded, prompt prefix cached
            idle = [cpu_over(stack, WINDOW_S) for _ in range(3)]
            cancelled, uncancelled = [], []
            for round_ in range(rounds):
                cancelled.append(one_round(client, stack, cancel=True))
                uncancelled.append(one_round(client, stack, cancel=False))
                print(f"  round {round_ + 1}/{rounds}: {json.dumps(cancelled[-1])}", flush=True)
    finally:
        stack.stop_all()

    def median(rows: list[dict[str, Any]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    def cpu(windows: list[dict[str, float]]) -> dict[str, float]:
        return {name: statistics.median(window[name] for window in windows) for name in WORKERS}

    latencies = sorted(row["cancel_to_last_event_ms"] for row in cancelled)
    report = {
        "cancel_to_last_event_ms": {"p50": statistics.median(latencies), "max": latencies[-1]},
        "cancel_request_ms_p50": median(cancelled, "cancel_request_ms"),
        "events_after_interrupted": sum(row["events_after_interrupted"] for row in cancelled),
        "segments_voiced_after_cancel_max": max(row["segments_voiced_after_cancel"] for row in cancelled),
        f"worker_cpu_s_in_{WINDOW_S:.0f}s": {
            "idle": cpu(idle),
            "after_cancel": cpu([row["cpu_after_s"] for row in cancelled]),
            "same_point_not_cancelled": cpu([row["cpu_after_s"] for row in uncancelled]),
        },
        "target": "cancel -> last event <= 100 ms; no events after job.interrupted",
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    typer.run(main)
