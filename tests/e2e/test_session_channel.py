"""The session channel (WS /v1/sessions/{id}/ws) on the real stack: what avatar clients receive.

Every subscriber of a session gets the same events in the same order; a client that reconnects
with its last id continues without a gap or a repeat; one that joins mid-turn hears that turn from
its job.queued; refusals are close codes; a client that leaves takes its server task with it.
"""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from httpx_sse import connect_sse
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from schemas.api_keys import Scope
from tests.e2e.conftest import wait_for_job
from tools.stack import Stack

QUESTION = "Tell me two short facts about the ocean, one sentence each."
# Long enough that the turn is still running when a client joins after its first voiced sentence.
LONG_STORY = "Tell me a long story about a brave little dragon, in at least six sentences."
Frame = dict[str, Any]


def channel_url(stack: Stack, session_id: str, key: str | None, **query: str) -> str:
    params = {"access_token": key, **query} if key else query
    base = stack.api_url.replace("http://", "ws://", 1)
    return f"{base}/v1/sessions/{session_id}/ws" + (f"?{urlencode(params)}" if params else "")


def key_of(api: httpx.Client) -> str:
    return str(api.headers["Authorization"]).removeprefix("Bearer ")


@contextmanager
def subscribe(stack: Stack, session_id: str, key: str, **query: str) -> Iterator[ClientConnection]:
    with connect(channel_url(stack, session_id, key, **query), open_timeout=30) as ws:
        yield ws


def read_until(ws: ClientConnection, done: Callable[[Frame], bool], *, timeout: float = 180) -> list[Frame]:
    """Frames (pings left out) up to and including the first for which ``done`` holds."""
    frames: list[Frame] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the awaited frame never came; got {[(f['event'], f['id']) for f in frames]}"
        frame = json.loads(ws.recv(timeout=remaining))
        if frame["event"] == "ping":
            assert "id" not in frame
            continue
        frames.append(frame)
        if done(frame):
            return frames


FINAL = ("job.completed", "job.failed", "job.interrupted")


def ended(job_id: str) -> Callable[[Frame], bool]:
    return lambda f: f["event"] in FINAL and f["data"]["job_id"] == job_id


def first(event: str, job_id: str) -> Callable[[Frame], bool]:
    return lambda f: f["event"] == event and f["data"]["job_id"] == job_id


def submit(api: httpx.Client, session_id: str, text: str = QUESTION) -> str:
    response = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": text})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def as_number(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def assert_increasing(frames: list[Frame]) -> None:
    ids = [as_number(f["id"]) for f in frames]
    assert ids == sorted(set(ids)), "ids must be unique and increasing"


def closed_with(url: str) -> int:
    """The close code the server answers a connection with (it sends nothing before closing)."""
    with connect(url, open_timeout=30) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=30)
    assert closed.value.rcvd is not None, "the server dropped the connection without a close frame"
    return closed.value.rcvd.code


def open_channels(api: httpx.Client) -> float:
    for line in api.get("/metrics").text.splitlines():
        if line.startswith("vtuber_ws_channels_open "):
            return float(line.split()[1])
    raise AssertionError("vtuber_ws_channels_open is not exported")


def wait_for_channels(api: httpx.Client, expected: float, what: str) -> None:
    deadline = time.monotonic() + 20
    while open_channels(api) != expected:
        assert time.monotonic() < deadline, f"{what}: {open_channels(api)} channels open, expected {expected}"
        time.sleep(0.05)


def test_two_subscribers_see_the_same_ordered_events_for_a_chat_turn_a_line_and_a_command(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    key = key_of(api)
    admin = httpx.Client(base_url=stack.api_url, timeout=30, headers=stack.api_headers)
    with subscribe(stack, session_id, key) as first, subscribe(stack, session_id, key) as second:
        chat = submit(api, session_id)
        assert wait_for_job(api, chat)["status"] == "completed"
        spoken = admin.post(f"/v1/sessions/{session_id}/speak", json={"text": "[happy] Thanks for the sub!"})
        assert spoken.status_code == 202, spoken.text
        line = spoken.json()["job_id"]
        assert wait_for_job(api, line)["status"] == "completed"
        command = {"action": "expression", "expression": "surprised", "weight": 0.8, "duration_s": 1.5}
        commanded = admin.post(f"/v1/sessions/{session_id}/avatar", json=command)
        assert commanded.status_code == 200, commanded.text
        command_job = commanded.json()["id"]
        seen = [read_until(ws, ended(command_job)) for ws in (first, second)]
    admin.close()
    assert seen[0] == seen[1]
    frames = seen[0]
    assert_increasing(frames)
    by_job = {
        job: [f["event"] for f in frames if f["data"]["job_id"] == job] for job in (chat, line, command_job)
    }
    assert by_job[chat][0] == "job.queued" and by_job[chat][-1] == "job.completed"
    assert "stage.started" in by_job[chat] and "segment.animation_ready" in by_job[chat]
    assert by_job[line][0] == "job.queued" and by_job[line][-1] == "job.completed"
    assert "segment.audio_ready" in by_job[line]
    assert by_job[command_job][-2:] == ["avatar.command", "job.completed"]
    applied = next(f for f in frames if f["event"] == "avatar.command")["data"]["command"]
    assert applied["action"] == "expression" and applied["expression"] == "surprised"
    assert applied["weight"] == 0.8
    assert all(f["data"]["session_id"] == session_id for f in frames)


def test_a_subscriber_that_reconnects_with_its_last_id_misses_and_repeats_nothing(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    key = key_of(api)
    with subscribe(stack, session_id, key) as witness:
        with subscribe(stack, session_id, key) as leaver:
            job_id = submit(api, session_id)
            before = read_until(leaver, lambda f: f["event"] == "segment.audio_ready")
        with subscribe(stack, session_id, key, after=before[-1]["id"]) as returner:
            after = read_until(returner, ended(job_id))
        whole = read_until(witness, ended(job_id))
    assert before + after == whole
    assert after and after[0]["id"] != before[-1]["id"]
    assert_increasing(before + after)


def test_a_late_joiner_hears_the_turn_in_progress_from_its_start(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    key = key_of(api)
    with subscribe(stack, session_id, key) as witness:
        finished = submit(api, session_id, "Hi!")
        read_until(witness, ended(finished))  # a finished turn: no joiner hears it again
        job_id = submit(api, session_id, LONG_STORY)
        early = read_until(witness, first("segment.audio_ready", job_id))
        with (
            subscribe(stack, session_id, key) as joiner,
            httpx.Client(base_url=stack.api_url, timeout=180, headers=api.headers) as sse_client,
            connect_sse(sse_client, "GET", f"/v1/sessions/{session_id}/events") as sse,
        ):
            assert sse.response.status_code == 200
            joined = read_until(joiner, ended(job_id))
            over_sse = []
            for event in sse.iter_sse():
                if not event.data:
                    continue  # a keep-alive ping
                over_sse.append({"id": event.id, "event": event.event, "data": json.loads(event.data)})
                if ended(job_id)(over_sse[-1]):
                    break
        whole = early[early.index(next(filter(first("job.queued", job_id), early))) :]
        whole += read_until(witness, ended(job_id))
    assert joined[0]["event"] == "job.queued" and joined[0]["data"]["job_id"] == job_id
    assert joined == whole, "the joiner must get the turn's earlier events first, then the rest, once each"
    assert over_sse == whole, "the SSE stream of the session does the same"
    assert all(f["data"]["job_id"] != finished for f in joined)


def test_refusals_are_close_codes(api: httpx.Client, session_id: str, stack: Stack) -> None:
    key = key_of(api)
    assert closed_with(channel_url(stack, session_id, None)) == 4401
    assert closed_with(channel_url(stack, session_id, "vtk_not-a-real-key")) == 4401
    other = stack.create_key("someone else", [Scope.client])
    assert closed_with(channel_url(stack, session_id, other)) == 4404
    assert closed_with(channel_url(stack, "0" * 32, key)) == 4404  # well formed, unknown
    assert closed_with(channel_url(stack, "not-an-id", key)) == 4404
    assert closed_with(channel_url(stack, session_id, key, after="DROP TABLE")) == 4400
    # The Authorization header works as well as the query.
    url = channel_url(stack, session_id, None, after="0-0")
    headers = {"Authorization": f"Bearer {key}"}
    with connect(url, additional_headers=headers, open_timeout=30) as ws, pytest.raises(TimeoutError):
        ws.recv(timeout=0.5)  # an empty session: open, and silent until something happens


def test_a_client_that_leaves_takes_its_server_task_with_it(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    key = key_of(api)
    before = open_channels(api)
    with subscribe(stack, session_id, key):
        wait_for_channels(api, before + 1, "a connected client")
    wait_for_channels(api, before, "after a clean close")
    with connect(channel_url(stack, session_id, key), open_timeout=30) as abrupt:
        wait_for_channels(api, before + 1, "a second client")
        abrupt.socket.close()  # gone without a close handshake, as a crashed client or a dead network
        wait_for_channels(api, before, "after the connection dropped")
