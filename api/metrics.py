"""Prometheus metrics: request latency per route, open event streams, queue depths at scrape time.

The request middleware is plain ASGI (not BaseHTTPMiddleware): it adds no task per request and
leaves streaming responses alone, which matters for a polled route at 1000+ requests a second.
"""

import time
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.pipeline_metrics import install_pipeline_collectors
from pipelines.queues import Queue

T = TypeVar("T")


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


class StreamGauge:
    """Counts open event streams (SSE or WebSocket); one leaves the count when its task ends."""

    def __init__(self, name: str, documentation: str) -> None:
        self.registry = CollectorRegistry()
        self.gauge = Gauge(name, documentation, registry=self.registry)

    async def track(self, events: AsyncIterator[T]) -> AsyncIterator[T]:
        self.gauge.inc()
        try:
            async for event in events:
                yield event
        finally:
            self.gauge.dec()

    @property
    def open(self) -> int:
        return int(self.gauge._value.get())


SSE_STREAMS = StreamGauge("vtuber_sse_streams_open", "Open server-sent event streams")
WS_CHANNELS = StreamGauge("vtuber_ws_channels_open", "Open session channel WebSockets")


class RequestMetrics:
    """ASGI middleware: latency and count per method, route template and status."""

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(scope["method"], template).observe(time.perf_counter() - started)
            self.requests.labels(scope["method"], template, str(status)).inc()


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
    install_pipeline_collectors(app, registry)
    app.add_middleware(RequestMetrics, requests=requests, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        # REGISTRY: the pipeline metrics this process records (pipelines/metrics.py)
        registries = (registry, SSE_STREAMS.registry, WS_CHANNELS.registry, REGISTRY)
        body = b"".join(generate_latest(r) for r in registries)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
