"""A heartbeat file for the container's liveness probe, touched by the worker's consumer.

``celery inspect ping`` starts a Celery client and a broker round trip per probe; reading a file's
age costs nothing. The file is touched from the consumer's own event loop, so it goes stale when
that loop hangs or the consumer has lost its broker connection (its steps stop until it is back).
"""

import contextlib
from pathlib import Path
from typing import Any, ClassVar

from celery import Celery, bootsteps

TOUCH_INTERVAL_S = 5.0


class HeartbeatFile(bootsteps.StartStopStep):
    """Consumer step: touch ``path`` now and every few seconds while the consumer runs."""

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}
    path: ClassVar[Path] = Path()

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer_ref: Any = None

    def touch(self) -> None:
        with contextlib.suppress(OSError):  # a full or read-only disk must not stop the worker
            self.path.touch()

    def start(self, parent: Any) -> None:
        self.touch()
        self.timer_ref = parent.timer.call_repeatedly(TOUCH_INTERVAL_S, self.touch)

    def stop(self, parent: Any) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None

    shutdown = stop


def install(app: Celery, path: str) -> None:
    """Keep ``path`` fresh while the worker consumes (no-op for an empty path)."""
    if not path:
        return
    step = type("HeartbeatFile", (HeartbeatFile,), {"path": Path(path)})
    app.steps["consumer"].add(step)
