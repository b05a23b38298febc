"""Live chat end to end: real API, Redis, MongoDB-protocol server, Celery workers and models."""

import io
from datetime import datetime
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile

from tests.e2e.conftest import wait_for_job
from tools import spoken

pytestmark = pytest.mark.e2e

SPOKEN = "Hello Hana, what is your favorite color?"


@pytest.fixture(scope="module")
def spoken_wav() -> bytes:
    """A real spoken utterance, synthesized with the bundled Piper voice."""
    return spoken.spoken_wav(SPOKEN)


def submit_audio(api: httpx.Client, session_id: str, data: bytes, name: str = "u.wav") -> httpx.Response:
    return api.post(f"/v1/sessions/{session_id}/utterances", files={"audio": (name, data, "audio/wav")})


def assert_segments_play(api: httpx.Client, job: dict[str, Any]) -> None:
    assert job["segments"], job
    assert [s["index"] for s in job["segments"]] == list(range(job["segments_total"]))
    for segment in job["segments"]:
        audio = api.get(segment["audio_url"])
        assert audio.status_code == 200
        assert audio.headers["content-type"] == "audio/wav"
        samples, rate = soundfile.read(io.BytesIO(audio.content))
        duration = len(samples) / rate
        assert duration > 0.2 and np.isfinite(samples).all()
        track = segment["animation"]
        assert track is not None and segment["ready"]
        assert abs(track["duration_s"] - duration) <= 0.05
        assert track["schema_version"] == "1.0" and track["source"] == "alignment"
        assert all(
            curve[-1]["t"] == pytest.approx(track["duration_s"]) for curve in track["visemes"].values()
        )
        assert track["emotion"] == segment["emotion"]
        ogg = api.get(segment["audio_url"], params={"format": "ogg"})
        assert ogg.status_code == 200 and ogg.headers["content-type"] == "audio/ogg"


def test_spoken_utterance_end_to_end(api: httpx.Client, session_id: str, spoken_wav: bytes) -> None:
    accepted = submit_audio(api, session_id, spoken_wav)
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(api, accepted.json()["job_id"])
    assert job["status"] == "completed", job["error"]
    transcript = job["transcript"]["text"].lower()
    assert "hana" in transcript or "hello" in transcript
    assert "favorite color" in transcript or "favourite colour" in transcript
    assert job["reply"]["text"].strip()
    assert job["reply"]["emotion"] in ("neutral", "happy", "angry", "sad", "relaxed", "surprised")
    assert set(job["timings"]) == {"stt", "llm", "tts", "animation"}
    assert_segments_play(api, job)


def test_text_utterance(api: httpx.Client, session_id: str) -> None:
    accepted = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Say hi to chat!"})
    assert accepted.status_code == 202
    job = wait_for_job(api, accepted.json()["job_id"])
    assert job["status"] == "completed", job["error"]
    assert job["transcript"] is None and "stt" not in job["timings"]
    assert_segments_play(api, job)


def test_unknown_job_is_404_with_code(api: httpx.Client) -> None:
    response = api.get("/v1/jobs/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_corrupt_audio_is_refused_at_the_api(api: httpx.Client, session_id: str) -> None:
    response = submit_audio(api, session_id, b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 20)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "audio_corrupt"


def test_silent_audio_fails_the_job_and_the_worker_keeps_serving(api: httpx.Client, session_id: str) -> None:
    from pipelines.audio_codec import encode_audio

    silence = encode_audio(np.zeros(16000 * 2, dtype=np.float32), 16000, "wav")
    job = wait_for_job(api, submit_audio(api, session_id, silence).json()["job_id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "audio_silent" and job["error"]["stage"] == "stt"
    follow_up = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Are you still there?"})
    assert wait_for_job(api, follow_up.json()["job_id"])["status"] == "completed"


def test_bad_requests_get_clear_codes(api: httpx.Client, session_id: str) -> None:
    empty_text = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": ""})
    assert empty_text.status_code == 422 and empty_text.json()["error"]["code"] == "validation_error"
    wrong_type = api.post(
        f"/v1/sessions/{session_id}/utterances", content=b"hi", headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    assert wrong_type.json()["error"]["code"] == "unsupported_media_type"
    unknown_session = api.post("/v1/sessions/nope/utterances", json={"text": "hi"})
    assert unknown_session.status_code == 404
    unknown_persona = api.post("/v1/sessions", json={"persona": "nobody"})
    assert unknown_persona.status_code == 400
    assert unknown_persona.json()["error"]["code"] == "unknown_persona"
    assert api.get("/v1/audio/0123456789abcdef01234567").status_code == 404


def test_health_readiness_and_openapi(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz").json()
    assert ready["status"] == "ready" and ready["checks"] == {"redis": "ok", "mongodb": "ok"}
    paths = api.get("/openapi.json").json()["paths"]
    assert "/v1/sessions/{session_id}/utterances" in paths and "/v1/jobs/{job_id}" in paths
    assert "vtuber_queue_depth" in api.get("/metrics").text
    player = api.get("/player")
    assert player.status_code == 200 and "player.js" in player.text


def test_first_segment_is_ready_while_the_llm_still_generates(api: httpx.Client, session_id: str) -> None:
    accepted = api.post(
        f"/v1/sessions/{session_id}/utterances",
        json={"text": "Tell me three short facts about cats, one sentence each."},
    )
    job = wait_for_job(api, accepted.json()["job_id"])
    assert job["status"] == "completed", job["error"]
    assert job["segments_total"] >= 2, job["reply"]
    first_ready = datetime.fromisoformat(job["segments"][0]["timings"]["animation"]["finished_at"])
    llm_done = datetime.fromisoformat(job["timings"]["llm"]["finished_at"])
    assert first_ready < llm_done, (first_ready, llm_done)


def test_history_and_feedback(api: httpx.Client, session_id: str) -> None:
    job_id = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Good night!"}).json()["job_id"]
    wait_for_job(api, job_id)
    history = api.get(f"/v1/sessions/{session_id}/jobs").json()
    assert history[0]["id"] == job_id and history[0]["status"] == "completed"
    feedback = api.post(f"/v1/jobs/{job_id}/feedback", json={"rating": 1, "comment": "cute"})
    assert feedback.status_code == 201 and feedback.json()["job_id"] == job_id
    assert api.post(f"/v1/jobs/{job_id}/feedback", json={"rating": 5}).status_code == 422
    assert api.post("/v1/jobs/nope/feedback", json={"rating": 1}).status_code == 404
