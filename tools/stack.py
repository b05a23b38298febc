"""The embedded default stack as plain processes: Redis, a MongoDB-protocol server, the Celery
workers and the API, all on loopback ports. Used by ``make demo``, ``make run`` and the e2e tests.

Redis runs with an append-only file so queued work survives a Redis restart; each process logs to
its own file under the run directory.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from pymongo import MongoClient

from pipelines.queues import WORKER_POOLS
from pipelines.settings import PROJECT_ROOT

DEFAULT_POOLS = ["stt-cpu", "llm", "tts", "animation", "notify"]


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

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/?directConnection=true"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def child_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.update(
            VTUBER_REDIS_URL=self.redis_url,
            VTUBER_MONGO_URL=self.mongo_url,
            PYTHONPATH=str(PROJECT_ROOT),
            PYTHONUNBUFFERED="1",
        )
        return env

    def _spawn(
        self, name: str, argv: list[str], extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = (self.run_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**self.child_env(), **(extra_env or {})},
            cwd=PROJECT_ROOT,
            start_new_session=True,  # its own process group: we can stop it with its children
        )
        self.processes[name] = process
        return process

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
            argv = [server, "--host", "127.0.0.1", "--port", str(self.mongo_port),
                    "--storage-path", storage, "--sync-on-commit"]  # fmt: skip
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
             "-n", f"{pool}{suffix}@%h", "-c", str(concurrency), "--pool", "prefork",
             "-l", "INFO", "--without-mingle", "--without-gossip",
             *(["-B", "-s", str(self.run_dir / "beat-schedule")] if pool == "notify" else [])],
            extra_env,
        )  # fmt: skip
        return name

    def replace_workers(self, pool: str, *, suffix: str, extra_env: dict[str, str] | None = None) -> str:
        """Stop every running worker of ``pool`` and start one with other settings."""
        for name, process in list(self.processes.items()):
            if name.startswith(f"worker-{pool}") and process.poll() is None:
                self.stop(name)
        name = self.start_worker(pool, suffix=suffix, extra_env=extra_env)
        self.wait_for_workers()
        return name

    def start_api(self) -> None:
        self._spawn(
            "api",
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
             "--port", str(self.api_port), "--log-level", "warning"],
        )  # fmt: skip
        wait_until(lambda: httpx.get(f"{self.api_url}/readyz").status_code == 200, timeout=60, what="API")

    def start_flower(self, port: int) -> str:
        """Flower, the Celery dashboard: queues, workers and tasks (needs the `ops` extra)."""
        self._spawn(
            "flower",
            [sys.executable, "-m", "celery", f"--broker={self.redis_url}", "flower",
             f"--port={port}", "--address=127.0.0.1"],
        )  # fmt: skip
        return f"http://127.0.0.1:{port}"

    def start(self) -> "Stack":
        self.start_redis()
        self.start_mongo()
        for pool in self.pools:
            self.start_worker(pool)
        self.start_api()
        return self

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
        """Send ``sig`` to the whole process group (a worker's pool children included)."""
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop(self, name: str, timeout: float = 15) -> None:
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(name)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        order = ["api", "flower", *[n for n in self.processes if n.startswith("worker-")], "mongo", "redis"]
        for name in order:
            self.stop(name)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.run_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
