"""Prometheus metrics: request latency per route, plus queue depths read from Redis at scrape time."""

import time
from collections.abc import Awaitable, Callable, Iterator

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from pipelines.queues import Queue


class QueueDepthCollector(Collector):
    """Messages waiting per Celery queue (a Redis list per queue with the Redis transport)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("vtuber_queue_depth", "Messages waiting in each queue", labels=["queue"])
        state = getattr(self.app.state, "api", None)
        if state is not None:
            try:
                for queue in Queue:
                    gauge.add_metric([queue.value], float(state.redis.llen(queue.value)))
            except Exception:
                pass  # Redis down: readiness reports it; a scrape must not fail
        yield gauge


def install_metrics(app: FastAPI) -> None:
    registry = CollectorRegistry()
    requests = Counter(
        "vtuber_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "vtuber_http_request_seconds",
        "HTTP request latency",
        ["method", "route"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        registry=registry,
    )
    registry.register(QueueDepthCollector(app))

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        latency.labels(request.method, template).observe(time.perf_counter() - started)
        requests.labels(request.method, template, str(response.status_code)).inc()
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
