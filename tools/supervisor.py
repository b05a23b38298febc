"""Start again the parts of a :class:`~tools.stack.Stack` that exit on their own.

A part that exits is started again with the same command (Redis on the same port and append-only
directory, so queued work survives) after a delay that doubles with each quick exit, from
``first_delay`` up to ``max_delay``, and falls back to ``first_delay`` once the part has stayed up
for ``stable_after`` seconds. Parts stopped on purpose (``Stack.stop``, ``Stack.kill``,
``Stack.stop_all``) are left alone. Every exit and restart goes to ``supervisor.log`` in the run
directory and to ``echo``.

``run_forever`` supervises from the calling thread (the launcher's main thread in ``make run``);
``start_background`` from a thread of its own (``make demo``). Linux SIGTERMs a child when the
*thread* that started it ends, so that thread must live as long as the stack does.
"""

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tools.stack import Stack


@dataclass
class _Part:
    pid: int
    started_at: float
    quick_exits: int = 0  # exits in a row, each within stable_after of its start
    restart_at: float | None = None


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class Supervisor:
    def __init__(
        self,
        stack: Stack,
        *,
        echo: Callable[[str], None] | None = None,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        stable_after: float = 60.0,
        interval: float = 0.25,
    ) -> None:
        self.stack = stack
        self.echo = echo
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.stable_after = stable_after
        self.interval = interval
        self.restarts: dict[str, int] = {}
        self.log_path = stack.run_dir / "supervisor.log"
        self._parts: dict[str, _Part] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def log(self, message: str) -> None:
        self.stack.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as out:
            out.write(f"{datetime.now().isoformat(timespec='milliseconds')} {message}\n")
        if self.echo:
            self.echo(message)

    def delay(self, quick_exits: int) -> float:
        return float(min(self.max_delay, self.first_delay * 2**quick_exits))

    def check(self) -> None:
        """One round: note parts that exited, start again those whose delay has passed."""
        now = time.monotonic()
        for name, process in list(self.stack.processes.items()):
            if name in self.stack.stopped:
                self._parts.pop(name, None)
                continue
            part = self._parts.get(name)
            if part is None or part.pid != process.pid:  # new, or started again by someone else
                started = self.stack.started_at.get(name, now)
                part = self._parts[name] = _Part(pid=process.pid, started_at=started)
            code = process.poll()
            if code is None:
                if part.quick_exits and now - part.started_at >= self.stable_after:
                    part.quick_exits = 0
                continue
            if part.restart_at is None:
                uptime = now - part.started_at
                if uptime >= self.stable_after:
                    part.quick_exits = 0
                wait = self.delay(part.quick_exits)
                part.restart_at = now + wait
                self.log(
                    f"{name} (pid {process.pid}) exited with {describe_exit(code)} after {uptime:.1f} s;"
                    f" restarting in {wait:.1f} s"
                )
            elif now >= part.restart_at:
                self._restart(name, part, now)

    def _restart(self, name: str, part: _Part, now: float) -> None:
        try:
            process = self.stack.respawn(name)
        except Exception as exc:  # e.g. the executable vanished: try again later, with a longer delay
            part.quick_exits += 1
            part.started_at, part.restart_at = now, None
            self.log(f"could not restart {name}: {exc!r}")
            return
        if process is None:  # stopped on purpose meanwhile
            return
        self.restarts[name] = self.restarts.get(name, 0) + 1
        started = self.stack.started_at[name]
        self._parts[name] = _Part(pid=process.pid, started_at=started, quick_exits=part.quick_exits + 1)
        self.log(f"restarted {name} (pid {process.pid}, restart {self.restarts[name]})")

    def run_forever(self) -> None:
        """Supervise from this thread until :meth:`stop` (or an exception, e.g. KeyboardInterrupt)."""
        self.log(f"supervising {', '.join(self.stack.processes)}")
        while not self._stop.is_set():
            self.check()
            self._stop.wait(self.interval)

    def start_background(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="stack-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
