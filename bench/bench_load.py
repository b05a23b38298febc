"""Load: many clients at once, each with its own API key, submitting text turns and following
them to the end by long-poll, for a bounded time on loopback. Zero errors and zero lost jobs is
the bar; the turn latency (submit → completed, as the client saw it) is reported as p50/p99.

Two runs: 100 clients for 3 minutes with instant stages (bench/instant_worker.py, so the queues,
MongoDB, events and the API are what is loaded) and 20 clients with the real models.

    python -m bench.bench_load [--instant-s 180] [--models-s 120]
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from bench.bench_live_latency import pct
from schemas.api_keys import Scope
from tools.stack import Stack

LOAD_ENV = {
    "VTUBER_LLM_THREADS": "2",
    "VTUBER_LLM_MAX_TOKENS": "40",
    # Per-key limits sized above what one client here can do, so any 429 would be a finding.
    "VTUBER_RATE_LIMIT": "200/second",
    "VTUBER_SUBMIT_RATE_LIMIT": "1000/minute",
}
FINAL = ("completed", "failed")


@dataclass
class Tally:
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)


async def client_loop(base_url: str, key: str, deadline: float, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        session = await client.post("/v1/sessions", json={})
        if session.status_code != 201:
            tally.errors[f"session {session.status_code}"] += 1
            return
        session_id = session.json()["id"]
        while time.monotonic() < deadline:
            started = time.monotonic()
            accepted = await client.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Hi there!"})
            if accepted.status_code != 202:
                tally.errors[f"submit {accepted.status_code}"] += 1
                await asyncio.sleep(0.5)
                continue
            job_id = accepted.json()["job_id"]
            tally.accepted.append(job_id)
            version = ""
            while True:
                params: dict[str, str | int] = {"wait": 25, "since": version} if version else {}
                polled = await client.get(f"/v1/jobs/{job_id}", params=params)
                if polled.status_code != 200:
                    tally.errors[f"poll {polled.status_code}"] += 1
                    await asyncio.sleep(0.5)
                    continue
                job = polled.json()
                version = job.get("version") or ""
                if job["status"] in FINAL:
                    break
            if job["status"] == "completed":
                tally.latencies_s.append(time.monotonic() - started)
            else:
                tally.errors[f"job {job['error']['code']}"] += 1


async def drive(stack: Stack, clients: int, seconds: float) -> Tally:
    keys = [stack.create_key(f"load client {n}", [Scope.client]) for n in range(clients)]
    tally = Tally()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(client_loop(stack.api_url, key, deadline, tally) for key in keys))
    return tally


def lost_jobs(stack: Stack, database: str, accepted: list[str]) -> int:
    """Accepted jobs that did not end (every client waited for its own, so this must be 0)."""
    jobs: Any = MongoClient(stack.mongo_url)[database]["jobs"]
    done = jobs.count_documents({"_id": {"$in": accepted}, "status": {"$in": list(FINAL)}})
    return len(accepted) - done


def run(label: str, clients: int, seconds: float, *, instant: bool) -> dict[str, Any]:
    database = f"load_{label}"
    stack = Stack(
        run_dir=Path(tempfile.mkdtemp(prefix=f"vtuber-load-{label}-")),
        env={**LOAD_ENV, "VTUBER_MONGO_DB": database, "VTUBER_MAX_JOBS_IN_FLIGHT": "5"},
    )
    if instant:
        stack.celery_app = "bench.instant_worker:app"
    stack.start()
    stack.wait_for_workers()
    try:
        if not instant:  # the first turn of each worker loads its model
            asyncio.run(drive(stack, 1, 1.0))
        started = time.monotonic()
        tally = asyncio.run(drive(stack, clients, seconds))
        elapsed = time.monotonic() - started
        lost = lost_jobs(stack, database, tally.accepted)
    finally:
        stack.stop_all()
    latencies = tally.latencies_s or [float("nan")]
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "turns_completed": len(tally.latencies_s),
        "turns_per_s": round(len(tally.latencies_s) / elapsed, 2),
        "errors": dict(tally.errors),
        "lost_jobs": lost,
        "turn_latency_s": {
            "p50": round(statistics.median(latencies), 3),
            "p99": round(pct(latencies, 0.99), 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instant-s", type=float, default=180.0)
    parser.add_argument("--instant-clients", type=int, default=100)
    parser.add_argument("--models-s", type=float, default=120.0)
    parser.add_argument("--models-clients", type=int, default=20)
    args = parser.parse_args()
    report = {
        "instant_stages": run("instant", args.instant_clients, args.instant_s, instant=True),
        "real_models": run("models", args.models_clients, args.models_s, instant=False),
    }
    print(json.dumps(report, indent=2))
    failed = [name for name, part in report.items() if part["errors"] or part["lost_jobs"]]
    if failed:
        raise SystemExit(f"errors or lost jobs under load: {failed}")


if __name__ == "__main__":
    main()
