"""The API refuses a callback URL into our own network at submit time: 422 callback_not_allowed,
and nothing is queued."""

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pipelines.audio_codec import encode_audio
from pipelines.settings import Settings

REFUSED = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://10.0.0.5/hook",
    "ftp://example.com/hook",
    "https://user:pw@example.com/hook",
]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    # open_access: keyless requests where API keys are in force; ignored where they are not.
    with TestClient(create_app(settings.model_copy(update={"open_access": True}))) as test_client:
        yield test_client


def assert_refused(response: Any) -> None:
    body = response.json()
    assert response.status_code == 422, body
    assert body["error"]["code"] == "callback_not_allowed" and body["error"]["message"]


@pytest.mark.parametrize("callback_url", REFUSED)
def test_a_text_turn_with_an_internal_callback_is_refused(
    client: TestClient, settings: Settings, callback_url: str
) -> None:
    session = client.post("/v1/sessions", json={}).json()["id"]
    response = client.post(
        f"/v1/sessions/{session}/utterances", json={"text": "hi", "callback_url": callback_url}
    )
    assert_refused(response)
    assert client.app.state.api.storage.jobs.count_documents({"session_id": session}) == 0  # type: ignore[attr-defined]


def test_speech_and_batches_check_their_form_field(client: TestClient) -> None:
    wav = encode_audio(np.zeros(8000, dtype=np.float32), 16000, "wav")
    session = client.post("/v1/sessions", json={}).json()["id"]
    speech = client.post(
        f"/v1/sessions/{session}/utterances",
        files={"audio": ("a.wav", wav, "audio/wav")},
        data={"callback_url": "http://[::ffff:169.254.169.254]/"},
    )
    assert_refused(speech)
    batch = client.post(
        "/v1/transcriptions",
        files=[("files", ("a.wav", wav, "audio/wav"))],
        data={"callback_url": "http://localhost:9000/hook"},
    )
    assert_refused(batch)
    assert "localhost" in batch.json()["error"]["message"]


def test_an_operator_may_allow_a_network(settings: Settings) -> None:
    allowing = settings.model_copy(update={"open_access": True, "callback_allowed_networks": ["127.0.0.0/8"]})
    with TestClient(create_app(allowing)) as client:
        session = client.post("/v1/sessions", json={}).json()["id"]
        accepted = client.post(
            f"/v1/sessions/{session}/utterances",
            json={"text": "hi", "callback_url": "http://127.0.0.1:9/hook"},
        )
        assert accepted.status_code == 202, accepted.text
        metadata = client.post(
            f"/v1/sessions/{session}/utterances",
            json={"text": "hi", "callback_url": "http://169.254.169.254/"},
        )
        assert_refused(metadata)
