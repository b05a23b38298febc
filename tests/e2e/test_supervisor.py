"""The launcher of `make run` (`python -m tools.cli run`): a crashed Redis comes back on its port with
its queued work, and no process outlives the launcher, whether it is SIGTERMed or SIGKILLed."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from pipelines.settings import PROJECT_ROOT
from tests.conftest import TEST_ENV
from tests.e2e.conftest import VISIBILITY_TIMEOUT_S
from tools.stack import free_port

pytestmark = pytest.mark.e2e

READY_S = 300  # model check, five workers and the API on a busy two-core machine
STOP_S = 60  # the launcher's stop: 15 s for workers to finish a task, then SIGKILL, then the servers
TURNS = 50  # the load: fifty turns queued or running when Redis dies
TURN_S = 10  # a generous bound for one short turn on a loaded two-core machine


def process_table() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, start time) for every process, from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        table[int(stat.parent.name)] = (int(fields[1]), fields[0], fields[19])
    return table


def descendants(root: int) -> dict[int, str]:
    """Every process below ``root``, as pid -> start time (a pid reused later is another process)."""
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = table[pid][2]
        todo.extend(children.get(pid, []))
    return found


def still_running(pids: dict[int, str]) -> dict[int, str]:
    """Those of ``pids`` that are the same process and not a zombie waiting for its reaper."""
    table = process_table()
    running = {}
    for pid, started in pids.items():
        if pid in table and table[pid][2] == started and table[pid][1] != "Z":
            try:
                running[pid] = (
                    Path(f"/proc/{pid}/cmdline")
                    .read_bytes()
                    .replace(b"\0", b" ")
                    .decode(errors="replace")[:120]
                )
            except OSError:
                continue
    return running


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@dataclass
class Launcher:
    process: subprocess.Popen[bytes]
    run_dir: Path
    output: Path
    api_url: str
    seen: dict[int, str] = field(default_factory=dict)  # every descendant ever seen, for the clean-up

    def tree(self) -> dict[int, str]:
        pids = descendants(self.process.pid)
        self.seen.update(pids)
        return pids

    def redis_pid(self) -> int | None:
        return next((pid for pid in self.tree() if comm(pid) == "redis-server"), None)

    def tail(self) -> str:
        logs = [self.output, self.run_dir / "supervisor.log"]
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())

    def clean_up(self) -> None:
        """SIGKILL whatever the test did not stop (only processes this launcher started)."""
        if self.process.poll() is None:
            self.tree()
            self.process.kill()
            self.process.wait(timeout=30)
        for pid in still_running(self.seen):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def launch(run_root: Path) -> Launcher:
    api_port, flower_port = free_port(), free_port()
    output = run_root / "launcher.out"
    env = {
        **os.environ,
        **TEST_ENV,
        "VTUBER_BROKER_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
        "VTUBER_LLM_MAX_TOKENS": "24",  # short replies: fifty turns on two shared cores
        "VTUBER_RECOVERY_INTERVAL_S": "5",  # the sweep re-sends what Redis lost within the test
        "VTUBER_RECOVERY_IDLE_S": "20",
        # Supervision, not access, is under test here: keyless, and fifty turns at once allowed.
        "VTUBER_OPEN_ACCESS": "true",
        "VTUBER_SUBMIT_RATE_LIMIT": "10000/minute",
        "VTUBER_MAX_JOBS_IN_FLIGHT": "200",
    }
    command = [sys.executable, "-m", "tools.cli", "run", "--port", str(api_port)]
    command += ["--flower-port", str(flower_port), "--run-dir", str(run_root / "run")]
    with output.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT, start_new_session=True
        )
    launcher = Launcher(process, run_root / "run", output, f"http://127.0.0.1:{api_port}")
    try:
        # Ready once the API answers and the launcher has started Flower and begun to supervise.
        deadline = time.monotonic() + READY_S
        while not ready(launcher):
            assert process.poll() is None, (
                f"the launcher exited with {process.returncode}:\n{launcher.tail()}"
            )
            assert time.monotonic() < deadline, (
                f"the stack was not ready within {READY_S} s:\n{launcher.tail()}"
            )
            time.sleep(0.5)
        launcher.tree()
    except BaseException:
        launcher.clean_up()
        raise
    return launcher


def ready(launcher: Launcher) -> bool:
    log = launcher.run_dir / "supervisor.log"
    if not (log.exists() and "supervising" in log.read_text()):
        return False
    try:
        return httpx.get(f"{launcher.api_url}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def assert_all_gone(pids: dict[int, str], timeout: float, launcher: Launcher) -> None:
    deadline = time.monotonic() + timeout
    while running := still_running(pids):
        assert time.monotonic() < deadline, (
            f"still running {timeout:.0f} s after the launcher stopped: {running}\n{launcher.tail()}"
        )
        time.sleep(0.2)


def job_view(api: httpx.Client, job_id: str) -> dict[str, Any] | None:
    """The job, or None while the API cannot answer (Redis restarting)."""
    try:
        response = api.get(f"/v1/jobs/{job_id}")
    except httpx.TransportError:
        return None
    return dict(response.json()) if response.status_code == 200 else None


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    """One launched stack for the Redis test, then stopped by the SIGTERM test."""
    launcher = launch(tmp_path_factory.mktemp("supervised"))
    try:
        yield launcher
    finally:
        launcher.clean_up()


def test_sigkilled_redis_is_restarted_and_every_queued_turn_finishes(supervised: Launcher) -> None:
    with httpx.Client(base_url=supervised.api_url, timeout=30) as api:
        job_ids = []
        for turn in range(TURNS):  # a session each: no turn waits for, or reads, another's context
            session = api.post("/v1/sessions", json={})
            assert session.status_code == 201, session.text
            accepted = api.post(
                f"/v1/sessions/{session.json()['id']}/utterances",
                json={"text": f"Turn {turn}: tell me one short thing about the number {turn}."},
            )
            assert accepted.status_code == 202, accepted.text
            job_ids.append(accepted.json()["job_id"])
        last_accepted = time.monotonic()

        # Strike once the first turn runs, the others wait in Redis, and the append-only file has
        # had its one-second fsync.
        deadline = time.monotonic() + 120
        while True:
            views = {job_id: job_view(api, job_id) for job_id in job_ids}
            statuses = [view["status"] if view else "?" for view in views.values()]
            if "running" in statuses and time.monotonic() > last_accepted + 1.5:
                break
            assert time.monotonic() < deadline, f"no turn started within 120 s: {statuses}"
            time.sleep(0.2)
        queued = [job_id for job_id, view in views.items() if view and view["status"] == "queued"]
        assert len(queued) >= TURNS // 2, f"too few turns left waiting in Redis: {statuses}"

        old_pid = supervised.redis_pid()
        assert old_pid is not None, "no redis-server under the launcher"
        cmdline = Path(f"/proc/{old_pid}/cmdline").read_bytes().decode()
        port = int(re.findall(r":(\d+)", cmdline)[-1])
        os.kill(old_pid, signal.SIGKILL)
        struck = time.monotonic()

        deadline = time.monotonic() + 30
        while True:
            new_pid = supervised.redis_pid()
            try:
                if new_pid not in (None, old_pid) and redis.Redis(port=port, socket_timeout=1).ping():
                    break
            except redis.RedisError:
                pass
            assert time.monotonic() < deadline, (
                f"Redis was not restarted on port {port}:\n{supervised.tail()}"
            )
            time.sleep(0.2)
        assert "restarted redis" in (supervised.run_dir / "supervisor.log").read_text()

        # Every turn accepted before the crash finishes: work in flight comes back after the
        # visibility timeout, queued work was in the append-only file.
        deadline = time.monotonic() + VISIBILITY_TIMEOUT_S + TURN_S * TURNS
        finished: dict[str, dict[str, Any]] = {}
        while len(finished) < len(job_ids):
            for job_id in set(job_ids) - set(finished):
                view = job_view(api, job_id)
                if view and view["status"] in ("completed", "failed"):
                    finished[job_id] = view
            pending = sorted(set(job_ids) - set(finished))
            assert time.monotonic() < deadline, f"turns not finished after the Redis restart: {pending}"
            time.sleep(0.5)
        print(f"{len(job_ids)} turns finished {time.monotonic() - struck:.1f} s after Redis was killed")
    for job in finished.values():
        assert job["status"] == "completed" or (job["error"] or {}).get("code"), job
    # What waited in Redis when it died was read back from the append-only file and ran.
    assert all(finished[job_id]["status"] == "completed" for job_id in queued), [
        (finished[job_id]["status"], finished[job_id]["error"]) for job_id in queued
    ]


def test_sigterm_to_the_launcher_stops_every_child(supervised: Launcher) -> None:
    pids, table = supervised.tree(), process_table()
    pool_children = [pid for pid in pids if pid in table and table[pid][0] != supervised.process.pid]
    assert len(pids) >= 10 and pool_children, f"not the whole stack: {still_running(pids)}"
    supervised.process.send_signal(signal.SIGTERM)
    try:
        supervised.process.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the launcher did not exit within {STOP_S} s of SIGTERM:\n{supervised.tail()}")
    assert_all_gone(pids, timeout=5, launcher=supervised)


def test_children_die_with_a_sigkilled_launcher(tmp_path: Path) -> None:
    launcher = launch(tmp_path)
    try:
        pids, table = launcher.tree(), process_table()
        assert any(pid in table and table[pid][0] != launcher.process.pid for pid in pids), "no pool children"
        launcher.process.kill()  # no clean-up code runs: the kernel's parent-death signal must do it
        launcher.process.wait(timeout=10)
        assert_all_gone(pids, timeout=STOP_S, launcher=launcher)
    finally:
        launcher.clean_up()
