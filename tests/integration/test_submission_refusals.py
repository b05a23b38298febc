"""What the API refuses up front, with a code: languages the models cannot serve, unknown
personas, bad viewer fields."""

import io
from collections.abc import Iterator

import numpy as np
import pytest
import soundfile
from fastapi.testclient import TestClient

from api.main import create_app
from pipelines.api_keys import create_key
from pipelines.settings import Settings
from pipelines.storage import Storage
from schemas.api_keys import Scope


@pytest.fixture
def headers(settings: Settings) -> Iterator[dict[str, str]]:
    storage = Storage(settings)
    _, secret = create_key(storage, name="languages", scopes=[Scope.client])
    yield {"Authorization": f"Bearer {secret}"}
    storage.close()


def tone_wav() -> bytes:
    buffer = io.BytesIO()
    t = np.arange(16000) / 16000
    soundfile.write(buffer, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, format="WAV")
    return buffer.getvalue()


def test_a_persona_the_piper_voice_cannot_speak_gets_no_session(
    settings: Settings, headers: dict[str, str]
) -> None:
    with TestClient(create_app(settings.model_copy(update={"tts_backend": "piper"}))) as api:
        for persona in ("sora", "yuki"):
            refused = api.post("/v1/sessions", json={"persona": persona}, headers=headers)
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == "language_unsupported"
            assert "gpt_sovits" in refused.json()["error"]["message"]
        assert api.post("/v1/sessions", json={"persona": "hana"}, headers=headers).status_code == 201


def test_audio_no_configured_model_can_hear_is_refused_before_upload(
    settings: Settings, headers: dict[str, str]
) -> None:
    english_only = settings.model_copy(
        update={"tts_backend": "gpt_sovits", "stt_model": "bundled:tiny.en", "stt_multilingual_model": ""}
    )
    with TestClient(create_app(english_only)) as api:
        session = api.post("/v1/sessions", json={"persona": "yuki"}, headers=headers)
        assert session.status_code == 201, session.text
        refused = api.post(
            f"/v1/sessions/{session.json()['id']}/utterances",
            files={"audio": ("line.wav", tone_wav(), "audio/wav")},
            headers=headers,
        )
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "language_unsupported"
        # Text needs no hearing: the same session still talks.
        text = api.post(
            f"/v1/sessions/{session.json()['id']}/utterances", json={"text": "やっほー"}, headers=headers
        )
        assert text.status_code == 202, text.text


def test_an_unknown_persona_is_a_400_on_every_route_that_names_one(settings: Settings) -> None:
    storage = Storage(settings)
    _, secret = create_key(storage, name="admin", scopes=[Scope.admin])
    admin = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(settings)) as api:
        for path in ("/v1/sessions", "/v1/animation"):
            refused = api.post(path, json={"persona": "nobody", "text": "Hi!"}, headers=admin)
            assert refused.status_code == 400, (path, refused.text)
            assert (
                refused.json()["error"]["code"] == "unknown_persona"
                and "hana" in refused.json()["error"]["message"]
            )
    storage.close()


def test_a_forms_viewer_fields_follow_the_json_bodys_rules(
    settings: Settings, headers: dict[str, str]
) -> None:
    with TestClient(create_app(settings)) as api:
        session = api.post("/v1/sessions", json={}, headers=headers).json()["id"]
        for field, value in (("viewer_id", "bad id with spaces"), ("viewer_name", "x" * 65)):
            refused = api.post(
                f"/v1/sessions/{session}/utterances",
                files={"audio": ("line.wav", tone_wav(), "audio/wav")},
                data={field: value},
                headers=headers,
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["details"][0]["loc"] == ["body", field]
