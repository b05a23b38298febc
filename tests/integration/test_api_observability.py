"""The API's side of observability: request log lines with their ids, the send stamp on each
message, and what /metrics reads at scrape time (STT routing, GPU workers alive, open batches)."""

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis
import soundfile
from fastapi.testclient import TestClient

from api.main import create_app
from pipelines.api_keys import create_key
from pipelines.dispatch import SENT_AT_HEADER
from pipelines.queues import Queue
from pipelines.settings import Settings
from pipelines.storage import Storage
from pipelines.stt_routing import SttRouter
from schemas.api_keys import Scope


@pytest.fixture
def own_settings(settings: Settings) -> Iterator[Settings]:
    """A Redis database of its own (the test reads queues and the routing switch whole), debug logs."""
    own = settings.model_copy(
        update={"redis_url": settings.redis_url.rsplit("/", 1)[0] + "/9", "log_level": "debug"}
    )
    client = redis.Redis.from_url(own.redis_url)
    client.flushdb()
    yield own
    client.flushdb()


@pytest.fixture
def client(own_settings: Settings) -> Iterator[TestClient]:
    storage = Storage(own_settings)
    _, secret = create_key(storage, name="admin", scopes=[Scope.client, Scope.admin])
    storage.close()
    with TestClient(create_app(own_settings), headers={"Authorization": f"Bearer {secret}"}) as test_client:
        yield test_client


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def gauge(metrics: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{name}{re.escape(labels)} (\S+)$", metrics, re.MULTILINE)
    assert match, f"{name}{labels} is not in /metrics"
    return float(match.group(1))


def tone_wav(seconds: float = 1.0) -> bytes:
    rate = 16000
    samples = 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)
    out = io.BytesIO()
    soundfile.write(out, samples.astype(np.float32), rate, format="WAV")
    return out.getvalue()


def test_a_request_logs_one_json_line_with_its_request_id_and_path_ids(
    capsys: pytest.CaptureFixture[str], client: TestClient
) -> None:
    session_id = client.post("/v1/sessions", json={}).json()["id"]
    capsys.readouterr()
    answer = client.get(f"/v1/sessions/{session_id}", headers={"X-Request-ID": "req-abc.123"})
    assert answer.status_code == 200 and answer.headers["x-request-id"] == "req-abc.123"
    (line,) = [line for line in json_lines(capsys.readouterr().out) if line["event"] == "request"]
    assert line["request_id"] == "req-abc.123" and line["session_id"] == session_id
    assert line["route"] == "/v1/sessions/{session_id}" and line["status"] == 200
    assert line["level"] == "debug" and line["duration_s"] >= 0  # reads log at debug

    unfit = client.get(f"/v1/sessions/{session_id}", headers={"X-Request-ID": "no spaces <allowed>"})
    assert re.fullmatch(r"[0-9a-f]{32}", unfit.headers["x-request-id"])  # replaced, not echoed


def test_a_turn_is_logged_without_its_text_and_its_message_carries_the_send_stamp(
    capsys: pytest.CaptureFixture[str], client: TestClient, own_settings: Settings
) -> None:
    session_id = client.post("/v1/sessions", json={}).json()["id"]
    capsys.readouterr()
    accepted = client.post(f"/v1/sessions/{session_id}/utterances", json={"text": "a secret wish"})
    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]
    lines = json_lines(capsys.readouterr().out)
    (queued,) = [line for line in lines if line["event"] == "turn queued"]
    assert queued["job_id"] == job_id and queued["session_id"] == session_id and queued["request_id"]
    assert all("a secret wish" not in json.dumps(line) for line in lines)
    raw = redis.Redis.from_url(own_settings.redis_url).lindex(Queue.llm.value, 0)
    assert raw is not None
    message = json.loads(raw)
    assert job_id in json.dumps(message) and isinstance(message["headers"][SENT_AT_HEADER], float)


def test_metrics_read_the_routing_switch_gpu_workers_and_open_batches(
    client: TestClient, own_settings: Settings
) -> None:
    metrics = client.get("/metrics").text
    assert gauge(metrics, "vtuber_stt_route_mode", '{mode="auto"}') == 1.0
    assert gauge(metrics, "vtuber_stt_route_mode", '{mode="gpu"}') == 0.0
    assert gauge(metrics, "vtuber_stt_gpu_workers_alive") == 0.0
    assert gauge(metrics, "vtuber_batches_open") == 0.0
    for queue in Queue:
        assert gauge(metrics, "vtuber_queue_depth", f'{{queue="{queue.value}"}}') == 0.0

    assert client.put("/v1/control/stt", json={"mode": "gpu"}).status_code == 200
    SttRouter(redis.Redis.from_url(own_settings.redis_url)).heartbeat("stt-gpu@test")
    files = [("files", (f"f{i}.wav", tone_wav(), "audio/wav")) for i in range(3)]
    assert client.post("/v1/transcriptions", files=files).status_code == 202
    metrics = client.get("/metrics").text
    assert gauge(metrics, "vtuber_stt_route_mode", '{mode="gpu"}') == 1.0
    assert gauge(metrics, "vtuber_stt_route_mode", '{mode="auto"}') == 0.0
    assert gauge(metrics, "vtuber_stt_gpu_workers_alive") == 1.0
    assert gauge(metrics, "vtuber_batches_open") == 1.0
    assert gauge(metrics, "vtuber_batch_files_pending") == 3.0
    assert gauge(metrics, "vtuber_queue_depth", '{queue="stt.batch.gpu"}') == 3.0
