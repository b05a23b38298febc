"""Build the Celery app with the reliability settings every process shares.

The API builds it without tasks (it only sends by name); workers build it and import their tasks.
"""

from celery import Celery
from kombu import Queue as KombuQueue

from pipelines import broker_transport
from pipelines.queues import TASK_ROUTES, Queue
from pipelines.settings import Settings


def make_celery(settings: Settings, *, include: list[str] | None = None) -> Celery:
    broker_transport.install()  # one Redis client per channel for sending
    app = Celery("vtuber", broker=settings.redis_url, backend=settings.redis_url, include=include or [])
    app.conf.update(
        task_queues=[KombuQueue(queue.value, routing_key=queue.value) for queue in Queue],
        task_routes=TASK_ROUTES,
        task_default_queue=Queue.maintenance.value,
        task_create_missing_queues=False,  # a typo in a queue name fails loudly
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # A task is acknowledged only after it finished, and requeued if its process dies.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": settings.broker_visibility_timeout_s,
            "queue_order_strategy": "round_robin",
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_soft_time_limit=settings.task_soft_time_limit_s,
        task_time_limit=settings.task_time_limit_s,
        result_expires=settings.result_expires_s,
        task_send_sent_event=True,
        worker_send_task_events=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        enable_utc=True,
    )
    return app
