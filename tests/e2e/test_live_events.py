"""Progress pushed to clients on the real stack: the job's SSE stream, resume, the session stream.

Latency targets live in bench/bench_live_latency.py; these tests check what is delivered: every
event, in order, exactly once, and that a client that goes away leaves nothing running.
"""

import json
import time
from typing import Any

import httpx
from httpx_sse import connect_sse

from tests.e2e.conftest import wait_for_job

QUESTION = "Tell me two short facts about the ocean, one sentence each."


def read_events(
    api: httpx.Client, job_id: str, *, last_event_id: str | None = None, stop_after: str | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, type, data) of the job's stream until it ends (or after the first ``stop_after``)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    seen: list[tuple[str, str, dict[str, Any]]] = []
    with connect_sse(api, "GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=180) as source:
        assert source.response.status_code == 200
        for event in source.iter_sse():
            if not event.data:
                continue  # a keep-alive ping: httpx_sse, unlike browsers, dispatches it once an id was seen
            seen.append((event.id, event.event, json.loads(event.data)))
            if event.event == stop_after:
                break
    return seen


def submit(api: httpx.Client, session_id: str, text: str = QUESTION) -> str:
    response = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": text})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def segment_events(
    events: list[tuple[str, str, dict[str, Any]]], index: int
) -> dict[str, tuple[int, dict[str, Any]]]:
    """Where each event about segment ``index`` stands in the stream, with its segment."""
    return {
        kind: (position, data["segment"])
        for position, (_, kind, data) in enumerate(events)
        if kind.startswith("segment.") and data["segment"]["index"] == index
    }


def test_sse_client_sees_every_segment_in_order_before_completion(api: httpx.Client, session_id: str) -> None:
    job_id = submit(api, session_id)
    events = read_events(api, job_id)
    types = [kind for _, kind, _ in events]
    assert types[0] == "job.queued" and types[-1] == "job.completed", types
    assert types.count("job.completed") == 1 and "stage.started" in types
    total = events[-1][2]["segments_total"]
    assert total >= 1 and types.count("segment.animation_ready") == total
    for index in range(total):
        seen = segment_events(events, index)
        assert set(seen) == {"segment.queued", "segment.audio_ready", "segment.animation_ready"}, index
        queued, (audio_at, audio), (animated_at, animated) = (
            seen["segment.queued"][0],
            seen["segment.audio_ready"],
            seen["segment.animation_ready"],
        )
        assert queued < audio_at < animated_at < len(events) - 1
        assert audio["audio_url"] and audio["duration_s"] > 0 and not audio["ready"]
        assert animated["ready"] and animated["animation"]["duration_s"] > 0
    ids = [entry_id for entry_id, _, _ in events]
    assert ids == sorted(set(ids), key=lambda i: tuple(map(int, i.split("-"))))  # ordered, unique
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "completed" and job["version"] == ids[-1]
    assert [s["text"] for s in job["segments"]] == [
        segment_events(events, i)["segment.animation_ready"][1]["text"] for i in range(total)
    ]


def test_resume_with_last_event_id_mid_turn_loses_and_repeats_nothing(
    api: httpx.Client, session_id: str
) -> None:
    job_id = submit(api, session_id)
    first_part = read_events(api, job_id, stop_after="segment.audio_ready")
    assert first_part[-1][1] == "segment.audio_ready"
    rest = read_events(api, job_id, last_event_id=first_part[-1][0])
    replay = read_events(api, job_id)  # the whole log from the start, after the job ended
    assert [e[0] for e in first_part + rest] == [e[0] for e in replay]
    assert rest[-1][1] == "job.completed"
    # Resuming after the end: 204, which tells an EventSource to stop reconnecting.
    after_end = api.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": rest[-1][0]})
    assert after_end.status_code == 204


def test_bad_last_event_id_and_unknown_job_are_4xx_in_the_error_shape(api: httpx.Client) -> None:
    missing = api.get("/v1/jobs/nope/events")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert api.get("/v1/sessions/nope/events").status_code == 404
    assert api.get("/v1/jobs/nope", params={"wait": 1}).status_code == 404
    unknown = "0" * 32  # well formed, so the request itself is judged
    bad = api.get(f"/v1/jobs/{unknown}/events", headers={"Last-Event-ID": "DROP TABLE"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    assert api.get(f"/v1/jobs/{unknown}", params={"wait": 31}).status_code == 422
    assert api.get(f"/v1/jobs/{unknown}", params={"wait": 1, "since": "x"}).status_code == 422


def open_streams(api: httpx.Client) -> float:
    for line in api.get("/metrics").text.splitlines():
        if line.startswith("vtuber_sse_streams_open "):
            return float(line.split()[1])
    raise AssertionError("vtuber_sse_streams_open is not exported")


def test_session_stream_follows_turns_and_a_gone_client_leaves_no_task(
    api: httpx.Client, session_id: str, stack: Any
) -> None:
    before = open_streams(api)
    with (
        httpx.Client(base_url=stack.api_url, timeout=180, headers=api.headers) as own,
        connect_sse(own, "GET", f"/v1/sessions/{session_id}/events") as source,
    ):
        assert source.response.status_code == 200
        deadline = time.monotonic() + 10
        while open_streams(api) < before + 1:
            assert time.monotonic() < deadline, "the stream was never counted as open"
            time.sleep(0.05)
        job_id = submit(api, session_id, "Hi!")
        for event in source.iter_sse():
            if not event.data:
                continue  # a keep-alive ping: httpx_sse, unlike browsers, dispatches it once an id was seen
            data = json.loads(event.data)
            assert data["session_id"] == session_id
            if event.event == "job.completed" and data["job_id"] == job_id:
                break
    deadline = time.monotonic() + 10
    while open_streams(api) > before:
        assert time.monotonic() < deadline, "the server kept the stream's task after the client left"
        time.sleep(0.05)
    assert wait_for_job(api, job_id)["status"] == "completed"
