"""A worker's /metrics: the sum of what its prefork pool processes recorded.

Celery runs tasks in forked pool processes, which a scrape of one HTTP port cannot reach one by
one, so prometheus-client's multiprocess mode keeps each process's values in files under
``PROMETHEUS_MULTIPROC_DIR`` and the worker's main process serves their sum on
``VTUBER_METRICS_PORT`` (0: no metrics). The directory belongs to one worker: it is emptied when the
worker starts (values of an earlier run would count twice), a directory of its own is made when the
deployment names none, and a pool process that exits takes its live gauges with it.
"""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from celery.signals import worker_init, worker_process_shutdown, worker_shutdown

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_port() -> int:
    """From the environment, not Settings: read before the first metric value exists."""
    return int(os.environ.get("VTUBER_METRICS_PORT", "0") or 0)


def use_multiprocess_dir() -> None:
    """Point prometheus-client at this worker's directory before any metric value is created.

    Metric values are created per label set on first use, in the pool process that records them;
    prometheus-client chooses their storage class when it is imported, so it is chosen again here
    in case something imported it before this module.
    """
    if metrics_port() <= 0:
        return
    if not os.environ.get(MULTIPROC_ENV):
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="vtuber-metrics-")
    Path(os.environ[MULTIPROC_ENV]).mkdir(parents=True, exist_ok=True)
    from prometheus_client import values

    values.ValueClass = values.get_value_class()


use_multiprocess_dir()


def empty_directory(path: Path) -> None:
    for entry in path.glob("*.db"):
        entry.unlink(missing_ok=True)


@worker_init.connect
def _serve_metrics(**_: Any) -> None:
    """In the worker's main process, before the pool forks: a clean directory and the HTTP port."""
    port = metrics_port()
    if port <= 0:
        return
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    empty_directory(Path(os.environ[MULTIPROC_ENV]))
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(port, addr=os.environ.get("VTUBER_METRICS_ADDR", "0.0.0.0"), registry=registry)


@worker_process_shutdown.connect
def _forget_live_gauges(pid: int | None = None, **_: Any) -> None:
    if metrics_port() > 0:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid or os.getpid())


@worker_shutdown.connect
def _remove_own_directory(**_: Any) -> None:
    """A directory this module made is removed with the worker; a configured one is kept."""
    path = os.environ.get(MULTIPROC_ENV, "")
    if metrics_port() > 0 and Path(path).name.startswith("vtuber-metrics-"):
        shutil.rmtree(path, ignore_errors=True)
