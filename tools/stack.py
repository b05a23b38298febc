"""The embedded default stack as plain processes: Redis, a MongoDB-protocol server, the Celery
workers and the API, all on loopback ports. Used by ``make demo``, ``make run`` and the e2e tests.

Redis runs with an append-only file so queued work survives a Redis restart; each process logs to
its own file under the run directory. Each child is the leader of its own process group (stopping it
stops its children too) and, on Linux, gets SIGTERM when the thread that started it dies, so a
SIGKILLed launcher leaves nothing behind. ``tools/supervisor.py`` restarts parts that crash.
"""

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from pymongo import MongoClient

from pipelines.api_keys import create_key
from pipelines.queues import POOL_KINDS, WORKER_POOLS
from pipelines.settings import PROJECT_ROOT
from schemas.api_keys import Scope

DEFAULT_POOLS = ["stt-cpu", "llm", "tts", "animation", "notify", "memory", "chat"]
# Pools whose work waits on sockets and databases, not the CPU: one process with a thread pool
# (the chat worker: platform connectors and selection passes) instead of a prefork pool.
THREAD_POOLS = {"chat"}


class StackError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_mongo_server() -> str:
    """The MongoDB wire-protocol server: $VTUBER_MONGO_SERVER, the project's .venv-mongo, or PATH."""
    candidates = [
        os.environ.get("VTUBER_MONGO_SERVER", ""),
        str(PROJECT_ROOT / ".venv-mongo" / "bin" / "secantusd-py"),
        shutil.which("secantusd-py") or "",
        shutil.which("mongod") or "",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    raise StackError("no MongoDB-protocol server found: run `make install` (it creates .venv-mongo)")


def runs_mongod() -> bool:
    """Whether the server found is MongoDB's own ``mongod`` (not the embedded one)."""
    try:
        return Path(find_mongo_server()).name == "mongod"
    except StackError:
        return False


PR_SET_PDEATHSIG = 1


def _die_with_parent(signal_number: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to signal the child when its parent dies (None elsewhere).

    The kernel sends the signal when the *thread* that forked the child exits, so start children
    from the main thread or a thread that lives as long as they should.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, not inside it
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal_number))
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal_number)

    return preexec


def group_alive(pgid: int) -> bool:
    """Whether a process group still has a live member (zombies waiting for a reaper do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not Path("/proc/self/stat").exists():
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise StackError(f"{what} did not become ready within {timeout:.0f} s")


@dataclass
class Stack:
    run_dir: Path
    pools: list[str] = field(default_factory=lambda: list(DEFAULT_POOLS))
    env: dict[str, str] = field(default_factory=dict)
    redis_port: int = field(default_factory=free_port)
    mongo_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    mongo_in_memory: bool = False
    celery_app: str = "workers.runtime:app"  # benchmarks start workers of their own configuration
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    api_key: str = ""  # the development key start() creates (client and admin scopes)
    # How each part was started (so a supervisor can start it again the same way), and the parts
    # stopped on purpose (which a supervisor leaves alone until they are started again).
    commands: dict[str, tuple[list[str], dict[str, str] | None, int]] = field(default_factory=dict)
    stopped: set[str] = field(default_factory=set)
    started_at: dict[str, float] = field(default_factory=dict)  # time.monotonic() of each start
    metrics_ports: dict[str, tuple[str, int]] = field(default_factory=dict)  # worker -> (pool, port)
    # Held while a part is started or marked stopped, so a supervisor thread and a stop cannot cross.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def mongo_url(self) -> str:
        """Without retryable writes when the server is the embedded one: it keeps every retryable
        write's reply for 30 minutes (up to 10,000) and scans that registry on every write, sorting
        it once full. bench/bench_mongo_ops.py: an update cost 1.0 ms on a fresh server, 1.7 ms
        after 10,000 writes and 4.0 ms past them, and 0.86 ms throughout without. A retry would
        only cover a reply lost on loopback; the stages are idempotent and retry on a lost
        connection anyway."""
        url = f"mongodb://127.0.0.1:{self.mongo_port}/?directConnection=true"
        return url if runs_mongod() else f"{url}&retryWrites=false"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def child_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.setdefault("VTUBER_MEMORY_STORE_URI", str(self.run_dir / "memory"))  # this stack's own
        env.update(
            VTUBER_REDIS_URL=self.redis_url,
            VTUBER_MONGO_URL=self.mongo_url,
            PYTHONPATH=str(PROJECT_ROOT),
            PYTHONUNBUFFERED="1",
        )
        return env

    def _spawn(
        self,
        name: str,
        argv: list[str],
        extra_env: dict[str, str] | None = None,
        parent_death_signal: int = signal.SIGTERM,
    ) -> subprocess.Popen[bytes]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.lock, (self.run_dir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**self.child_env(), **(extra_env or {})},
                cwd=PROJECT_ROOT,
                start_new_session=True,  # its own process group: we can stop it with its children
                preexec_fn=_die_with_parent(parent_death_signal),
            )
            self.processes[name] = process
            self.commands[name] = (argv, extra_env, parent_death_signal)
            self.started_at[name] = time.monotonic()
            self.stopped.discard(name)
        return process

    def respawn(self, name: str) -> subprocess.Popen[bytes] | None:
        """Start an exited part again with its command (same ports, same data); None if it was
        stopped on purpose."""
        with self.lock:
            if name in self.stopped:
                return None
            old = self.processes[name]
            if old.poll() is None:
                raise StackError(f"{name} is still running (pid {old.pid})")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(old.pid, signal.SIGKILL)  # what is left of its group (pool children)
            return self._spawn(name, *self.commands[name])

    # --- the services -----------------------------------------------------------------------------
    def start_redis(self) -> None:
        data = self.run_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        self._spawn(
            "redis",
            [shutil.which("redis-server") or "redis-server", "--port", str(self.redis_port),
             "--bind", "127.0.0.1", "--dir", str(data), "--appendonly", "yes",
             "--appendfsync", "everysec", "--save", ""],
        )  # fmt: skip
        client = redis.Redis.from_url(self.redis_url)
        wait_until(lambda: bool(client.ping()), timeout=20, what="Redis")

    def start_mongo(self) -> None:
        storage = ":memory:" if self.mongo_in_memory else str(self.run_dir / "mongo")
        if not self.mongo_in_memory:
            Path(storage).mkdir(parents=True, exist_ok=True)
        server = find_mongo_server()
        if Path(server).name == "mongod":
            argv = [server, "--port", str(self.mongo_port), "--bind_ip", "127.0.0.1", "--dbpath", storage]
        else:
            # Durability as mongod's default write concern gives it (no fsync per commit, which
            # tripled every progress write): a killed server may lose its last progress writes,
            # which the recovery sweep redoes; what answers a client asks for j:true
            # (Storage.journaled, tests/integration/test_mongo_durability.py).
            argv = [server, "--host", "127.0.0.1", "--port", str(self.mongo_port),
                    "--storage-path", storage]  # fmt: skip
        self._spawn("mongo", argv)
        client: MongoClient = MongoClient(self.mongo_url, serverSelectionTimeoutMS=1000)
        wait_until(lambda: bool(client.admin.command("ping")), timeout=60, what="MongoDB server")
        client.close()

    def start_worker(
        self, pool: str, *, concurrency: int = 1, suffix: str = "", extra_env: dict[str, str] | None = None
    ) -> str:
        name = f"worker-{pool}{suffix}"
        queues = ",".join(q.value for q in WORKER_POOLS[pool])
        self._spawn(
            name,
            [sys.executable, "-m", "celery", "-A", self.celery_app, "worker", "-Q", queues,
             "-n", f"{pool}{suffix}@%h", "-c", str(concurrency),
             "--pool", "threads" if pool in THREAD_POOLS else "prefork",
             "-l", "INFO", "--without-mingle", "--without-gossip",
             *(["-B", "-s", str(self.run_dir / "beat-schedule")] if pool == "notify" else [])],
            {"VTUBER_WORKER_KIND": POOL_KINDS[pool].value,  # imports its own tasks only
             **self.metrics_env(name, pool), **(extra_env or {})},
        )  # fmt: skip
        self.write_metrics_targets()
        return name

    def metrics_env(self, name: str, pool: str) -> dict[str, str]:
        """A free /metrics port and a multiprocess directory of its own for each worker."""
        port = free_port()
        self.metrics_ports[name] = (pool, port)
        return {
            "VTUBER_METRICS_PORT": str(port),
            "VTUBER_METRICS_ADDR": "127.0.0.1",
            "PROMETHEUS_MULTIPROC_DIR": str(self.run_dir / "metrics" / name),
        }

    def write_metrics_targets(self) -> Path:
        """The running workers' /metrics ports as a Prometheus file_sd list (labels: pool, worker)."""
        targets = [
            {"targets": [f"127.0.0.1:{port}"], "labels": {"pool": pool, "worker": name}}
            for name, (pool, port) in sorted(self.metrics_ports.items())
            if name in self.processes and self.processes[name].poll() is None
        ]
        path = self.run_dir / "metrics-targets.json"
        path.write_text(json.dumps(targets, indent=1))
        return path

    def running_workers(self, pool: str) -> list[str]:
        """Names of the workers of ``pool`` that are running now (restarts carry suffixes)."""
        return [
            name
            for name, process in self.processes.items()
            if name.startswith(f"worker-{pool}") and process.poll() is None
        ]

    def replace_workers(self, pool: str, *, suffix: str, extra_env: dict[str, str] | None = None) -> str:
        """Stop every running worker of ``pool`` and start one with other settings."""
        for name in self.running_workers(pool):
            self.stop(name)
        name = self.start_worker(pool, suffix=suffix, extra_env=extra_env)
        self.wait_for_workers()
        return name

    def start_api(self, extra_env: dict[str, str] | None = None) -> None:
        self._spawn(
            "api",
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
             "--port", str(self.api_port), "--log-level", "warning",
             "--timeout-graceful-shutdown", "5"],  # an open event stream must not hold a stop
            extra_env,
        )  # fmt: skip
        wait_until(lambda: httpx.get(f"{self.api_url}/readyz").status_code == 200, timeout=60, what="API")

    def start_flower(self, port: int) -> str:
        """Flower, the Celery dashboard: queues, workers and tasks (needs the `ops` extra)."""
        self._spawn(
            "flower",
            [sys.executable, "-m", "celery", f"--broker={self.redis_url}", "flower",
             f"--port={port}", "--address=127.0.0.1"],
            # Flower keeps no state, and its SIGTERM handler can wait forever on a broker that
            # died in the same instant (seen in CI: alive 60 s after a SIGKILLed launcher).
            parent_death_signal=signal.SIGKILL,
        )  # fmt: skip
        return f"http://127.0.0.1:{port}"

    def start(self) -> "Stack":
        self.start_redis()
        self.start_mongo()
        for pool in self.pools:
            self.start_worker(pool)
        self.start_api()
        self.api_key = self.create_key("development", [Scope.client, Scope.admin], development=True)
        return self

    def create_key(self, name: str, scopes: list[Scope], *, development: bool = False) -> str:
        """A new API key in this stack's database; its plain text (shown once)."""
        from pipelines.settings import Settings
        from pipelines.storage import Storage

        env = self.child_env()
        storage = Storage(Settings(mongo_url=self.mongo_url, mongo_db=env.get("VTUBER_MONGO_DB", "vtuber")))
        try:
            return create_key(storage, name=name, scopes=scopes, development=development)[1]
        finally:
            storage.close()

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def wait_for_workers(self, timeout: float = 120) -> None:
        """Until every started worker answers a ping (models still load lazily, on first task)."""
        from pipelines.celery_app import make_celery
        from pipelines.settings import Settings

        app = make_celery(Settings(redis_url=self.redis_url, mongo_url=self.mongo_url))
        expected = {
            name.removeprefix("worker-")
            for name, process in self.processes.items()
            if name.startswith("worker-") and process.poll() is None
        }

        def all_up() -> bool:
            replies = app.control.ping(timeout=1.0) or []
            seen = {name.split("@")[0] for reply in replies for name in reply}
            return expected <= seen

        wait_until(all_up, timeout=timeout, what="Celery workers")

    # --- stopping and faults ------------------------------------------------------------------------
    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group (a worker's pool children included).

        The part counts as stopped on purpose: a supervisor does not start it again.
        """
        with self.lock:
            process = self.processes[name]
            self.stopped.add(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop(self, name: str, timeout: float = 15) -> None:
        self.stop_many([name], timeout=timeout)

    def stop_many(self, names: list[str], timeout: float = 15) -> None:
        """SIGTERM each part's process group at once, SIGKILL whatever is left after ``timeout``.

        Waits for the whole group, not only its leader: a Celery worker's pool children must go too.
        """
        with self.lock:
            running = [n for n in names if n in self.processes]
            self.stopped.update(running)
            groups = {name: self.processes[name].pid for name in running}
        for pgid in groups.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)

        def wait(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while groups:
                for name, pgid in list(groups.items()):
                    if self.processes[name].poll() is not None and not group_alive(pgid):
                        del groups[name]
                if not groups or time.monotonic() > deadline:
                    return
                time.sleep(0.1)

        wait(timeout)
        for pgid in groups.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        wait(5)
        for name in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.processes[name].wait(timeout=1)

    def stop_all(self, timeout: float = 15) -> None:
        """The API, Flower and the workers together, then the servers they talk to."""
        with self.lock:
            self.stopped.update(self.processes)
        servers = ["mongo", "redis"]
        self.stop_many([n for n in self.processes if n not in servers], timeout=timeout)
        self.stop_many(servers, timeout=timeout)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.run_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
