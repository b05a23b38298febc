"""What the API process holds open for its lifetime, built in the app's lifespan."""

from dataclasses import dataclass

import redis
from celery import Celery

from pipelines.dispatch import Dispatcher
from pipelines.settings import Settings
from pipelines.storage import Storage
from pipelines.stt_routing import SttRouter


@dataclass
class ApiState:
    settings: Settings
    storage: Storage
    redis: redis.Redis
    celery: Celery
    router: SttRouter
    dispatcher: Dispatcher
