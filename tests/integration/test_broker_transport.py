"""The broker transport (pipelines/broker_transport.py): one Redis client per channel, on real Redis."""

import os
from typing import Any

import pytest
import redis
from kombu import Exchange
from kombu import Queue as KombuQueue

from pipelines.broker_transport import Channel
from pipelines.celery_app import make_celery
from pipelines.settings import Settings


def count_clients_made(channel: Channel, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    made: list[Any] = []
    make = channel._create_client

    def counted(*args: Any, **kwargs: Any) -> Any:
        client = make(*args, **kwargs)
        made.append(client)
        return client

    monkeypatch.setattr(channel, "_create_client", counted)
    return made


def test_a_channel_sends_messages_and_events_through_one_redis_client(
    settings: Settings, rclient: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_celery(settings)
    name = f"t-broker-{os.urandom(4).hex()}"
    queue, events = KombuQueue(name, routing_key=name), Exchange(f"{name}-events", type="fanout")
    with app.connection_for_write() as connection:
        assert connection.as_uri().startswith("redis://")  # what the worker banner and Flower read
        channel = connection.default_channel
        assert isinstance(channel, Channel)
        made = count_clients_made(channel, monkeypatch)
        producer = connection.Producer(channel)
        for number in range(5):
            producer.publish({"n": number}, routing_key=name, declare=[queue])
            producer.publish({"event": number}, exchange=events, declare=[events])
        assert len(made) == 1  # kombu's own channel makes one per message: ten
        assert rclient.llen(name) == 5

        channel._disconnect_pools()  # a fork or a reconnect: the next send gets a fresh client
        producer.publish({"n": 5}, routing_key=name)
        assert len(made) == 2 and made[1] is not made[0]
        assert rclient.llen(name) == 6
    rclient.delete(name)


def test_sentinel_brokers_keep_kombus_own_channel(settings: Settings) -> None:
    app = make_celery(settings.model_copy(update={"redis_url": "sentinel://127.0.0.1:26379"}))
    connection = app.connection_for_write()
    assert not issubclass(connection.transport.Channel, Channel)
