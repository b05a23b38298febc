"""What the API process holds open for its lifetime, built in the app's lifespan."""

from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
from celery import Celery

from api.auth import KeyCache
from api.job_view_cache import JobViewCache
from api.known_sessions import KnownSessions
from api.rate_limits import KeyRateLimits
from pipelines.dispatch import Dispatcher
from pipelines.events import EventLog
from pipelines.settings import Settings
from pipelines.stages.context import StageContext
from pipelines.storage import Storage
from pipelines.stt_routing import SttRouter


@dataclass
class ApiState:
    settings: Settings
    storage: Storage
    redis: redis.Redis
    aredis: aioredis.Redis  # event streams and versions, read without a thread per waiting client
    celery: Celery
    router: SttRouter
    dispatcher: Dispatcher
    events: EventLog
    views: JobViewCache
    sessions: KnownSessions
    keys: KeyCache
    rate_limits: KeyRateLimits
    followups: StageContext  # what a finish owes (context turn, event, webhook), done from the API
