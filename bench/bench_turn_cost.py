"""Where a live turn's orchestration goes: CPU per turn in each process, and MongoDB operations.

    python -m bench.bench_turn_cost [--turns 200] [--sustained 300]

The stack runs with instant stages (bench/instant_worker.py), so every millisecond counted is
orchestration: the API, the Celery workers, Redis and the MongoDB-protocol server. Two loads:
sequential text turns (one in flight, the latency case) and many turns in flight (the throughput
case), then the same for bare four-hop Celery chains over the same workers. On two cores, CPU per
turn bounds both latency and throughput; this says which process to make cheaper next.

Writes docs/turn_cost.md.
"""

import time
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx
import psutil
import typer
from pymongo import MongoClient

from bench.bench_live_latency import (
    BENCH_ENV,
    DOCS,
    machine,
    new_session,
    sustained_bare_chains,
    sustained_turns,
)
from bench.live_clients import SessionFollower, submit
from tools.stack import Stack

CpuSeconds = dict[str, float]


def cpu_seconds(stack: Stack) -> CpuSeconds:
    """User + system CPU of every part of the stack (a prefork worker with its children) and of
    this process (the load generator)."""
    used: CpuSeconds = {}
    for name, process in stack.processes.items():
        try:
            parent = psutil.Process(process.pid)
            family = [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        used[name] = sum(_cpu(p) for p in family)
    used["bench client"] = _cpu(psutil.Process())
    return used


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return float(times.user + times.system)


def mongo_ops(client: MongoClient[dict[str, Any]]) -> int:
    """Reads and writes the server has counted (serverStatus opcounters). Commands are left out:
    every client's monitor counts there too; a count or an aggregate (one per submitted turn, the
    jobs-in-flight check) is among them."""
    counters = client.admin.command("serverStatus")["opcounters"]
    return sum(int(counters[kind]) for kind in ("insert", "query", "update", "delete", "getmore"))


def per_turn(before: CpuSeconds, after: CpuSeconds, turns: int) -> dict[str, float]:
    """Milliseconds of CPU per turn for each process that used any."""
    spent = {name: (after[name] - before.get(name, 0.0)) * 1000 / turns for name in after}
    return {name: round(ms, 2) for name, ms in sorted(spent.items(), key=lambda kv: -kv[1]) if ms >= 0.05}


def measure(turns: int, sustained: int) -> dict[str, Any]:
    stack = Stack(
        run_dir=Path(mkdtemp(prefix="vtuber-bench-cost-")),
        env={**BENCH_ENV, "VTUBER_MONGO_DB": "bench_cost", "VTUBER_LLM_FIRST_AUDIO_WAIT_S": "0"},
        celery_app="bench.instant_worker:app",
    )
    stack.start()
    stack.wait_for_workers()
    report: dict[str, Any] = {}
    mongo: MongoClient[dict[str, Any]] = MongoClient(stack.mongo_url)
    try:
        with httpx.Client(base_url=stack.api_url, timeout=60, headers=stack.api_headers) as client:
            session = new_session(client)
            follower = SessionFollower(stack.api_url, session, stack.api_headers)
            for _ in range(20):  # warm-up: connections, imports, indexes
                follower.wait_for(submit(client, session, text="hi", audio=None))
            time.sleep(0.5)
            cpu, ops, started = cpu_seconds(stack), mongo_ops(mongo), time.perf_counter()
            for _ in range(turns):
                follower.wait_for(submit(client, session, text="hi", audio=None))
            elapsed = time.perf_counter() - started
            time.sleep(0.5)  # follow-ups after the completion event (the outbox's strike-off)
            report["sequential"] = {
                "turns": turns,
                "ms_per_turn": round(elapsed * 1000 / turns, 1),
                "mongo_ops_per_turn": round((mongo_ops(mongo) - ops) / turns, 1),
                "cpu_ms_per_turn": per_turn(cpu, cpu_seconds(stack), turns),
            }
            cpu, ops = cpu_seconds(stack), mongo_ops(mongo)
            flow = sustained_turns(stack.api_url, stack.api_headers, session, follower, sustained)
            time.sleep(0.5)
            report["sustained"] = {
                **flow,
                "mongo_ops_per_turn": round((mongo_ops(mongo) - ops) / sustained, 1),
                "cpu_ms_per_turn": per_turn(cpu, cpu_seconds(stack), sustained),
            }
            follower.stop()
        cpu = cpu_seconds(stack)
        chains = sustained_bare_chains(stack, sustained)
        report["bare_chains"] = {**chains, "cpu_ms_per_chain": per_turn(cpu, cpu_seconds(stack), sustained)}
    finally:
        mongo.close()
        stack.stop_all()
    return report


def render(result: dict[str, Any]) -> str:
    m, seq, flow, bare = result["machine"], result["sequential"], result["sustained"], result["bare_chains"]
    lines = [
        "# Where a live turn's orchestration goes",
        "",
        f"Generated by `{m['command']}` (bench/bench_turn_cost.py); numbers from one run.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; commit {m['commit']}, {m['date']}.",
        "",
        "Instant stages, so all of it is orchestration. Text turns of two segments (llm → 2 × tts → "
        "2 × animation), one session.",
        "",
        f"- One turn at a time: {seq['ms_per_turn']} ms per turn, {seq['mongo_ops_per_turn']} MongoDB "
        "reads and writes per turn.",
        f"- {flow['turns']} turns in flight: {flow['turns_per_s']:.1f} turns/s, "
        f"{flow['mongo_ops_per_turn']} MongoDB reads and writes per turn.",
        f"- Bare four-hop Celery chains, {bare['chains']} in flight on the same workers: "
        f"{bare['chains_per_s']:.1f} chains/s.",
        "",
        "CPU per turn (milliseconds; a prefork worker counts with its pool children):",
        "",
        "| process | one at a time | many in flight | bare chain |",
        "| --- | --- | --- | --- |",
    ]
    tables = (seq["cpu_ms_per_turn"], flow["cpu_ms_per_turn"], bare["cpu_ms_per_chain"])
    for name in dict.fromkeys(name for table in tables for name in table):
        lines.append(f"| {name} | {' | '.join(str(table.get(name, '')) for table in tables)} |")
    lines.append(f"| **all** | {' | '.join(str(round(sum(table.values()), 1)) for table in tables)} |")
    return "\n".join(lines) + "\n"


def main(turns: int = 200, sustained: int = 300, write_docs: bool = True) -> None:
    result = {"machine": machine("bench.bench_turn_cost"), **measure(turns, sustained)}
    table = render(result)
    print(table)
    if write_docs:
        (DOCS / "turn_cost.md").write_text(table)


if __name__ == "__main__":
    typer.run(main)
