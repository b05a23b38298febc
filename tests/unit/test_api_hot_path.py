"""What keeps the API's per-request cost low, held by the code's shape (the numbers are in bench/)."""

import inspect
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute

from api.main import create_app
from pipelines.settings import Settings
from tools.stack import Stack, runs_mongod


def dependencies(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from dependencies(sub)


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute | APIWebSocketRoute]:
    """Every route, also inside included routers (FastAPI keeps those as the router included)."""
    for route in routes:
        if isinstance(route, APIRoute | APIWebSocketRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def test_every_dependency_is_async() -> None:
    """FastAPI runs a plain ``def`` dependency in its thread pool: at 1,000 polls/s that hand-off
    cost more than the lookups themselves (api/deps.py)."""
    app = create_app(Settings())
    routes = list(api_routes(app.routes))
    assert len(routes) > 40, "the walk missed the routers"
    calls = [depends.dependency for depends in app.router.dependencies]
    calls += [call for route in routes for call in dependencies(route.dependant)]
    sync = {
        f"{call.__module__}.{call.__qualname__}"
        for call in calls
        if inspect.isfunction(call)
        and not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))
    }
    assert not sync, sorted(sync)


def test_the_embedded_mongodb_server_is_asked_for_no_retryable_writes(tmp_path: Path) -> None:
    """Its registry of retryable-write replies is scanned on every write (tools/stack.py)."""
    url = Stack(run_dir=tmp_path).mongo_url
    assert ("retryWrites=false" in url) is not runs_mongod(), url
