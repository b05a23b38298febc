"""Live-turn latency: the pipeline against the in-process floor, everything measured in one run.

    python -m bench.bench_live_latency [--turns 8] [--instant-turns 200] [--sustained 300]

1. The floor: Whisper, the LLM and Piper called in this process, one after another (bench/floor.py).
2. The pipeline through the API on the embedded stack (same models, same settings), seen by an SSE
   client, a 10 ms polling client and a long-poll client; text and spoken turns, a fresh session
   per turn, floor and pipeline turns interleaved so both see the same machine.
3. Orchestration alone: the stack again with instant stages (bench/instant_worker.py) — added time
   per turn next to a bare four-hop Celery chain, and sustained turns per second.
4. Delivery delay (segment stored → client sees it) and GET /v1/jobs/{id} throughput.

Writes docs/performance.json and docs/performance.md (the table, the machine, the command).
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
import typer

from bench.bare_chain import HOP_DONE_KEY, HOP_QUEUES, TWO_SEGMENTS
from bench.floor import InProcessFloor, TurnTiming
from bench.live_clients import (
    Observed,
    SessionFollower,
    observe_long_poll,
    observe_polling,
    observe_sse,
    poll_throughput,
    submit,
)
from pipelines.celery_app import make_celery
from pipelines.settings import PROJECT_ROOT, Settings
from pipelines.stages.llm import stable_seed
from tools.spoken import spoken_wav
from tools.stack import Stack

QUESTION = "Hello! Can you tell me something fun about the ocean?"
# One key drives every client: limits high enough never to bite, but still checked per request
# (authentication and the rate-limit window cost what they cost in production).
BENCH_ENV = {
    "VTUBER_MONGO_DB": "bench",
    "VTUBER_LLM_THREADS": "2",
    "VTUBER_RATE_LIMIT": "1000000/second",
    "VTUBER_SUBMIT_RATE_LIMIT": "1000000/second",
    "VTUBER_MAX_JOBS_IN_FLIGHT": "100000",
}
DOCS = PROJECT_ROOT / "docs"


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p90": pct(values, 0.9), "p99": pct(values, 0.99)}


def new_session(client: httpx.Client) -> str:
    return str(client.post("/v1/sessions", json={}).json()["id"])


def pipeline_turn(
    client: httpx.Client, observe: Callable[[httpx.Client, str, float], Observed], *, audio: bytes | None
) -> tuple[str, Observed]:
    session = new_session(client)
    started = time.perf_counter()
    job_id = submit(client, session, text=None if audio else QUESTION, audio=audio)
    return job_id, observe(client, job_id, started)


def measure_models(turns: int, warmup: int) -> dict[str, Any]:
    """Sections 1, 2 and the delivery delays: the real models, floor against pipeline.

    Each pipeline turn is paired with a floor turn right after it that uses the job's own seed, so
    both write the same reply (replies differ a lot in length from seed to seed) on the same machine.
    """
    settings = Settings(**{k.removeprefix("VTUBER_").lower(): v for k, v in BENCH_ENV.items()})  # type: ignore[arg-type]
    stack = Stack(run_dir=Path(tempfile.mkdtemp(prefix="vtuber-bench-live-")), env=BENCH_ENV)
    stack.start()
    stack.wait_for_workers()
    spoken = spoken_wav(QUESTION)
    floor = InProcessFloor(settings, settings.default_persona)
    observers = {"sse": observe_sse, "poll_10ms": observe_polling, "long_poll": observe_long_poll}
    pairs: dict[str, dict[str, list[tuple[Observed, TurnTiming]]]] = {"text": {}, "audio": {}}
    try:
        with httpx.Client(base_url=stack.api_url, timeout=60, headers=stack.api_headers) as client:
            for kind, audio in (("text", None), ("audio", spoken)):
                for round_ in range(warmup + turns):
                    line = []
                    for name, observe in observers.items():
                        job_id, observed = pipeline_turn(client, observe, audio=audio)
                        timing = floor.turn(
                            text=None if audio else QUESTION, audio=audio, seed=stable_seed(job_id)
                        )
                        line.append(f"{name} {observed.first_audio_s:.3f}/floor {timing.first_audio_s:.3f}")
                        if round_ >= warmup:
                            pairs[kind].setdefault(name, []).append((observed, timing))
                    label = "warm-up" if round_ < warmup else f"round {round_ + 1 - warmup}/{turns}"
                    print(f"  {kind} {label}: " + ", ".join(line), flush=True)
    finally:
        stack.stop_all()
    report: dict[str, Any] = {}
    for kind in ("text", "audio"):
        floors = [timing for observed in pairs[kind].values() for _, timing in observed]
        report[kind] = {
            "floor": {
                "first_audio_s": summary([t.first_audio_s for t in floors]),
                "end_s": summary([t.end_s for t in floors]),
                "reply_time_per_audio_s": statistics.median(t.reply_time_per_audio_s for t in floors),
            }
        }
        for name, paired in pairs[kind].items():
            seen = [o for o, _ in paired]
            report[kind][name] = {
                "first_audio_s": summary([o.first_audio_s for o in seen]),
                "end_s": summary([o.end_s for o in seen]),
                "reply_time_per_audio_s": statistics.median(o.reply_time_per_audio_s for o in seen),
                "first_audio_minus_floor_s": statistics.median(
                    o.first_audio_s - t.first_audio_s for o, t in paired
                ),
                "reply_time_per_audio_minus_floor_s": statistics.median(
                    o.reply_time_per_audio_s - t.reply_time_per_audio_s for o, t in paired
                ),
            }
    delivery = {
        name: [d for kind in ("text", "audio") for o, _ in pairs[kind][name] for d in o.delivery_s]
        for name in ("sse", "long_poll")
    }
    report["delivery_ms"] = {
        name: {k: v * 1000 for k, v in summary(values).items()} for name, values in delivery.items()
    }
    return report


@dataclass
class InstantStack:
    """The stack with instant stages, warmed up: a client, a session and its event follower."""

    stack: Stack
    client: httpx.Client
    session: str
    follower: SessionFollower


@contextmanager
def instant_stack(database: str) -> Iterator[InstantStack]:
    """Start the stack with instant stages (bench/instant_worker.py), warm it up, stop it after."""
    stack = Stack(
        run_dir=Path(tempfile.mkdtemp(prefix="vtuber-bench-instant-")),
        # No pause after the first sentence: it exists so real models do not fight over cores,
        # and instant stages use none.
        env={**BENCH_ENV, "VTUBER_MONGO_DB": database, "VTUBER_LLM_FIRST_AUDIO_WAIT_S": "0"},
        celery_app="bench.instant_worker:app",
    )
    stack.start()
    stack.wait_for_workers()
    try:
        with httpx.Client(base_url=stack.api_url, timeout=60, headers=stack.api_headers) as client:
            session = new_session(client)
            follower = SessionFollower(stack.api_url, session, stack.api_headers)
            for _ in range(20):  # warm-up: connections, imports, indexes
                follower.wait_for(submit(client, session, text="hi", audio=None))
            try:
                yield InstantStack(stack, client, session, follower)
            finally:
                follower.stop()
    finally:
        stack.stop_all()


def measure_orchestration(instant_turns: int, sustained: int, poll_seconds: float) -> dict[str, Any]:
    """Section 3 and the poll throughput: instant stages, so only the orchestration takes time."""
    report: dict[str, Any] = {}
    spoken = spoken_wav("Hello!")
    with instant_stack("bench_instant") as run:
        stack, client, session, follower = run.stack, run.client, run.session, run.follower
        turns = (
            ("audio_4_stage", "hi", spoken),  # one segment: four tasks, as in the bare chain
            ("text_3_stage", "hi", None),
            ("text_2_segments", TWO_SEGMENTS, None),  # llm, 2 x tts, 2 x animation
        )
        for kind, text, audio in turns:
            times = []
            for _ in range(instant_turns):
                started = time.perf_counter()
                job_id = submit(client, session, text=text, audio=audio)
                times.append(follower.wait_for(job_id) - started)
            report[f"instant_turn_{kind}_ms"] = {k: v * 1000 for k, v in summary(times).items()}
        report["bare_chain_4_hops_ms"] = {
            k: v * 1000 for k, v in summary(bare_chain(stack, instant_turns)).items()
        }
        report["sustained"] = sustained_turns(stack.api_url, stack.api_headers, session, follower, sustained)
        report["sustained_bare_chains"] = sustained_bare_chains(stack, sustained)
        last = submit(client, session, text="hi", audio=None)
        time.sleep(1.0)
        report["poll_throughput"] = poll_throughput(
            "127.0.0.1",
            stack.api_port,
            f"/v1/jobs/{last}",
            headers=stack.api_headers,
            clients=20,
            seconds=poll_seconds,
        )
    return report


def bare_chain(stack: Stack, count: int) -> list[float]:
    """Four no-op tasks, each sending the next by name over the stage queues, on the same workers."""
    app = make_celery(Settings(redis_url=stack.redis_url, mongo_url=stack.mongo_url))
    client = redis.Redis.from_url(stack.redis_url)
    times = []
    for round_ in range(count + 10):
        token = uuid.uuid4().hex
        started = time.perf_counter()
        app.send_task("bench.hop", args=[0, token], queue=HOP_QUEUES[0].value, ignore_result=True)
        if client.blpop([f"{HOP_DONE_KEY}:{token}"], timeout=30) is None:
            raise RuntimeError("the bare chain did not finish in 30 s")
        if round_ >= 10:
            times.append(time.perf_counter() - started)
    return times


def sustained_turns(
    base_url: str,
    headers: dict[str, str],
    session: str,
    follower: SessionFollower,
    count: int,
    text: str = "hi",
) -> dict[str, float]:
    """Many text turns in flight at once: completions per second from the first submit to the last end.

    One shared keep-alive client sends them (16 at a time): a client built per request costs the
    load generator more CPU (an SSL context each) than the turn it submits costs the stack.
    """
    pending: set[str] = set()
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    with (
        httpx.Client(base_url=base_url, timeout=60, headers=headers, limits=limits) as client,
        ThreadPoolExecutor(max_workers=16) as pool,
    ):
        started = time.perf_counter()
        pending.update(pool.map(lambda _: submit(client, session, text=text, audio=None), range(count)))
        submitted = time.perf_counter() - started
    last = started
    while pending:
        job_id, at = follower.completed.get(timeout=60)
        if job_id in pending:
            pending.discard(job_id)
            last = at
    return {
        "turns": count,
        "turns_per_s": count / (last - started),
        "submit_per_s": count / submitted,
        "seconds": last - started,
    }


def sustained_bare_chains(stack: Stack, count: int) -> dict[str, float]:
    """The ceiling for sustained turns on this machine: ``count`` bare four-hop chains sent at once
    over the same queues and workers, completions per second."""
    app = make_celery(Settings(redis_url=stack.redis_url, mongo_url=stack.mongo_url))
    client = redis.Redis.from_url(stack.redis_url)
    token = uuid.uuid4().hex
    started = time.perf_counter()
    for _ in range(count):
        app.send_task("bench.hop", args=[0, token], queue=HOP_QUEUES[0].value, ignore_result=True)
    for _ in range(count):
        if client.blpop([f"{HOP_DONE_KEY}:{token}"], timeout=60) is None:
            raise RuntimeError("the bare chains did not finish in 60 s")
    seconds = time.perf_counter() - started
    return {"chains": count, "chains_per_s": count / seconds, "seconds": seconds}


def machine(module: str = "bench.bench_live_latency") -> dict[str, Any]:
    """The machine, the commit and the command line (``module`` the bench run) of a result."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "commit": commit.stdout.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join([f"python -m {module}", *sys.argv[1:]]),
    }


def main(
    turns: int = typer.Option(8, help="measured turns per kind, after warm-up"),
    warmup: int = 2,
    instant_turns: int = 200,
    sustained: int = 300,
    poll_seconds: float = 10.0,
    write_docs: bool = True,
) -> None:
    print("== real models: floor vs pipeline ==", flush=True)
    models = measure_models(turns, warmup)
    print("== instant stages: orchestration ==", flush=True)
    orchestration = measure_orchestration(instant_turns, sustained, poll_seconds)
    result: dict[str, Any] = {"machine": machine(), "models": models, "orchestration": orchestration}
    from bench.performance_report import render, targets

    result["targets"] = targets(result)
    table = render(result)
    print(table)
    if write_docs:
        DOCS.mkdir(exist_ok=True)
        (DOCS / "performance.json").write_text(json.dumps(result, indent=2) + "\n")
        (DOCS / "performance.md").write_text(table)


if __name__ == "__main__":
    typer.run(main)
