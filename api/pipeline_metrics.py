"""Pipeline state read at scrape time: the STT routing switch and the GPU STT workers alive, and
the files of open batches. Beside them, /metrics serves the pipeline metrics this process records
itself (pipelines/metrics.py: turns failed at submission or interrupted here).

A collector that cannot reach Redis or MongoDB yields nothing rather than failing the scrape;
readiness reports the dependency.
"""

from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from pipelines.stt_routing import SttMode
from schemas.batches import BatchStatus

OPEN_BATCHES = [BatchStatus.queued.value, BatchStatus.running.value]


class SttRoutingCollector(Collector):
    """Routing speech to the GPU pool while no GPU worker is alive leaves viewers waiting."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = getattr(self.app.state, "api", None)
        if state is None:
            return
        try:
            mode, alive = state.router.mode(), len(state.router.gpu_workers())
        except Exception:
            return
        modes = GaugeMetricFamily(
            "vtuber_stt_route_mode", "STT routing mode in force (1) or not (0)", labels=["mode"]
        )
        for candidate in SttMode:
            modes.add_metric([candidate.value], 1.0 if candidate is mode else 0.0)
        yield modes
        yield GaugeMetricFamily(
            "vtuber_stt_gpu_workers_alive", "GPU STT workers with a live heartbeat", value=float(alive)
        )


class BatchProgressCollector(Collector):
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = getattr(self.app.state, "api", None)
        if state is None:
            return
        totals = {"$sum": 1}
        pipeline = [
            {"$match": {"status": {"$in": OPEN_BATCHES}}},
            {
                "$group": {
                    "_id": None,
                    "batches": totals,
                    "total": {"$sum": "$files_total"},
                    "finished": {"$sum": {"$add": ["$files_done", "$files_failed"]}},
                }
            },
        ]
        try:
            rows = list(state.storage.batches.aggregate(pipeline))
        except Exception:
            return
        row = rows[0] if rows else {"batches": 0, "total": 0, "finished": 0}
        yield GaugeMetricFamily(
            "vtuber_batches_open", "Batches queued or running", value=float(row["batches"])
        )
        yield GaugeMetricFamily(
            "vtuber_batch_files_pending",
            "Files of open batches not finished yet",
            value=float(row["total"] - row["finished"]),
        )


def install_pipeline_collectors(app: FastAPI, registry: CollectorRegistry) -> None:
    registry.register(SttRoutingCollector(app))
    registry.register(BatchProgressCollector(app))
