"""The FastAPI app factory: connections open in the lifespan, routes come from api/routes."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI

from api.errors import install_error_handlers
from api.metrics import install_metrics
from api.routes import audio, control, health, history, jobs, sessions, transcriptions, web
from api.state import ApiState
from pipelines.celery_app import make_celery
from pipelines.dispatch import Dispatcher
from pipelines.settings import Settings, get_settings
from pipelines.storage import Storage
from pipelines.stt_routing import SttRouter

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    config = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage = Storage(config)
        try:
            storage.ensure_indexes()
        except Exception as exc:  # start anyway: /readyz reports the database until it is back
            log.warning("could not create indexes at start-up: %r", exc)
        client = redis.Redis.from_url(config.redis_url, socket_timeout=5, socket_connect_timeout=5)
        celery = make_celery(config)
        router = SttRouter(client, default_mode=config.stt_route)
        app.state.api = ApiState(
            settings=config,
            storage=storage,
            redis=client,
            celery=celery,
            router=router,
            dispatcher=Dispatcher(celery, router),
        )
        yield
        storage.close()
        client.close()

    app = FastAPI(
        title="VTuber backend",
        version="0.1.0",
        description="Speech or text in; reply text, voice, lip sync and expressions out.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_metrics(app)
    for module in (health, sessions, jobs, history, audio, transcriptions, control, web):
        app.include_router(module.router)
    return app


app = create_app()
