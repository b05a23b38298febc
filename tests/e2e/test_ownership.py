"""Ownership across a real turn: what one key's turn produced (its job, events, synthesized audio,
session history) is invisible to another key, even with every id in hand."""

import httpx
import pytest

from schemas.api_keys import Scope
from tests.e2e.conftest import wait_for_job
from tools.stack import Stack

pytestmark = pytest.mark.e2e


def test_another_key_cannot_read_a_turn_or_its_audio(api: httpx.Client, stack: Stack) -> None:
    session = api.post("/v1/sessions", json={}).json()["id"]
    job = wait_for_job(
        api, api.post(f"/v1/sessions/{session}/utterances", json={"text": "Hi!"}).json()["job_id"]
    )
    assert job["status"] == "completed", job["error"]
    audio_urls = [segment["audio_url"] for segment in job["segments"]]
    assert all(api.get(url).status_code == 200 for url in audio_urls)

    other = {"Authorization": f"Bearer {stack.create_key('someone else', [Scope.client])}"}
    with httpx.Client(base_url=stack.api_url, timeout=30, headers=other) as stranger:
        for path in (
            f"/v1/jobs/{job['id']}",
            f"/v1/jobs/{job['id']}/events",
            f"/v1/sessions/{session}",
            f"/v1/sessions/{session}/jobs",
            *audio_urls,
            *(f"{url}?format=ogg" for url in audio_urls),
        ):
            response = stranger.get(path)
            assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", path
        refused = stranger.post(f"/v1/sessions/{session}/utterances", json={"text": "me too"})
        assert refused.status_code == 404
    with httpx.Client(base_url=stack.api_url, timeout=30) as anonymous:
        assert anonymous.get(audio_urls[0]).status_code == 401
    with httpx.Client(base_url=stack.api_url, timeout=30, headers=stack.api_headers) as admin:
        assert admin.get(audio_urls[0]).status_code == 200  # the admin scope reads any session
