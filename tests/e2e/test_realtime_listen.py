"""Realtime transcription over ``WS /v1/sessions/{id}/listen`` on the whole stack: real speech
streamed at real time and faster gives partials, then a final that is a turn of the session; silence
and noise give none; a client that drops mid-utterance still has what it said heard; bad frames and
bad keys get close codes; an STT worker SIGKILLed mid-utterance is replaced and the final still comes.
"""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest
import redis
from pymongo import MongoClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from schemas.api_keys import Scope
from tests.conftest import TEST_ENV
from tests.listen_audio import frames, noise, opus_packets, silence, speech, spoken_pcm, to_pcm
from tests.wer import wer, words
from tools.stack import Stack

Frame = dict[str, Any]
LINES = [
    "Hello Hana, what game are we playing today on the stream? I really liked the castle level.",
    "Can you tell me a joke about cats?",
]
WER_LIMIT = 0.25


def listen_url(stack: Stack, session_id: str, key: str | None, **query: str) -> str:
    params = {"access_token": key, **query} if key else query
    base = stack.api_url.replace("http://", "ws://", 1)
    return f"{base}/v1/sessions/{session_id}/listen" + (f"?{urlencode(params)}" if params else "")


def key_of(api: httpx.Client) -> str:
    return str(api.headers["Authorization"]).removeprefix("Bearer ")


@contextmanager
def listening(stack: Stack, api: httpx.Client, session_id: str, **query: str) -> Iterator[ClientConnection]:
    with connect(listen_url(stack, session_id, key_of(api), **query), open_timeout=30) as ws:
        ready = json.loads(ws.recv(timeout=30))
        assert ready["type"] == "ready" and ready["sample_rate"] == 16000, ready
        ws.listen_id = ready["listen_id"]  # type: ignore[attr-defined]
        yield ws


def stream(ws: ClientConnection, pcm: bytes, *, speed: float, end: bool = True) -> threading.Thread:
    """Send ``pcm`` in 20 ms frames at ``speed`` times real time, from a thread of its own."""

    def send() -> None:
        started = time.monotonic()
        for index, frame in enumerate(frames(pcm)):
            time.sleep(max(0.0, started + index * 0.02 / speed - time.monotonic()))
            ws.send(frame)
        if end:
            ws.send(json.dumps({"type": "end"}))

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender


def read_until(ws: ClientConnection, done: Callable[[Frame], bool], *, timeout: float = 120) -> list[Frame]:
    """Frames up to and including the first for which ``done`` holds."""
    got: list[Frame] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the awaited frame never came; got {got}"
        got.append(json.loads(ws.recv(timeout=remaining)))
        if done(got[-1]):
            return got


def is_type(kind: str) -> Callable[[Frame], bool]:
    return lambda frame: frame["type"] == kind


def finals(got: list[Frame]) -> list[Frame]:
    return [f for f in got if f["type"] == "final"]


def closed_with(ws: ClientConnection, timeout: float = 30) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=timeout)
    assert closed.value.rcvd is not None, "the server dropped the connection without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def listen_jobs(stack: Stack, listen_id: str) -> list[dict[str, Any]]:
    client: MongoClient[dict[str, Any]] = MongoClient(stack.mongo_url)
    with client:
        return list(
            client[TEST_ENV["VTUBER_MONGO_DB"]].jobs.find({"listen_id": listen_id}).sort("created_at", 1)
        )


def test_speech_at_real_time_gives_partials_then_finals_that_are_turns_of_the_session(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    with listening(stack, api, session_id) as ws:
        sender = stream(ws, spoken_pcm(*LINES, gap_s=1.5), speed=1.0)
        got = read_until(ws, is_type("ended"), timeout=180)
        sender.join(timeout=30)
        assert closed_with(ws)[0] == 1000
    said = finals(got)
    assert [f["utterance"] for f in said] == [0, 1], got
    assert wer(zip(LINES, [f["text"] for f in said], strict=True)) <= WER_LIMIT, said
    # the long line's speech is seconds long: it was heard while it was still being said
    first_partial = next(i for i, f in enumerate(got) if f["type"] == "partial" and f["utterance"] == 0)
    assert first_partial < got.index(said[0]) and got[first_partial]["audio_s"] < said[0]["end_s"]
    assert said[0]["end_s"] < said[1]["start_s"]
    jobs = listen_jobs(stack, ws.listen_id)  # type: ignore[attr-defined]
    assert [(j["_id"], j["session_id"], j["input_text"]) for j in jobs] == [
        (f["job_id"], session_id, f["text"]) for f in said
    ]


def test_speech_streamed_faster_than_real_time_is_heard_the_same(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    with listening(stack, api, session_id) as ws:
        stream(ws, spoken_pcm(LINES[0], gap_s=1.5), speed=4.0)
        said = finals(read_until(ws, is_type("ended"), timeout=180))
    assert len(said) == 1 and wer([(LINES[0], said[0]["text"])]) <= WER_LIMIT, said


def test_speech_sent_as_opus_packets_is_heard_the_same(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    said = np.concatenate([silence(0.75), speech(LINES[1]), silence(1.5)])
    with listening(stack, api, session_id, encoding="opus") as ws:
        for packet in opus_packets(said):  # 20 ms each, sent 4x faster than real time
            ws.send(packet)
            time.sleep(0.005)
        ws.send(json.dumps({"type": "end"}))
        heard = finals(read_until(ws, is_type("ended"), timeout=180))
    assert len(heard) == 1 and wer([(LINES[1], heard[0]["text"])]) <= WER_LIMIT, heard


def test_silence_and_noise_make_no_utterance(api: httpx.Client, session_id: str, stack: Stack) -> None:
    with listening(stack, api, session_id) as ws:
        stream(ws, to_pcm(np.concatenate([silence(3), noise(4), silence(1)])), speed=4.0)
        got = read_until(ws, is_type("ended"), timeout=120)
    assert [f for f in got if f["type"] in ("final", "partial")] == [], got
    assert listen_jobs(stack, ws.listen_id) == []  # type: ignore[attr-defined]


def test_a_client_that_drops_mid_utterance_has_what_it_said_so_far_heard(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    heard = speech(LINES[0])
    cut = int(heard.size * 0.6)  # "Hello Hana, what game are we playing today on the ..."
    with listening(stack, api, session_id) as ws:
        stream(ws, to_pcm(np.concatenate([silence(0.5), heard[:cut]])), speed=4.0, end=False).join(30)
        listen_id = ws.listen_id  # type: ignore[attr-defined]
        ws.socket.close()  # gone without a close handshake, as a crashed client or a dead network
    deadline = time.monotonic() + 120
    while not (jobs := listen_jobs(stack, listen_id)):
        assert time.monotonic() < deadline, "what was said before the drop never became a turn"
        time.sleep(0.25)
    [job] = jobs
    said = words(job["input_text"])
    assert said[0] == "hello" and 4 <= len(said) < len(words(LINES[0])), said  # what was sent, no more
    # the worker ends the listen (its end frame follows the final's submission in the output stream
    # the socket was relaying): the last frame, once it has come
    output = redis.Redis.from_url(stack.redis_url)
    while True:
        out: Any = output.xrange(f"listen:{listen_id}:out")
        last = json.loads(out[-1][1][b"frame"])
        if last["type"] == "ended" or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert last == {"type": "ended", "reason": "disconnect"}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00" * 641, 1007),  # half a sample
        (b"\x00" * 64_002, 1009),  # more than listen_max_frame_bytes
        ("hello", 1003),  # text that is no control message
        ('{"type": "pause"}', 1003),
    ],
)
def test_bad_frames_are_refused_with_a_close_code_and_reason(
    api: httpx.Client, session_id: str, stack: Stack, frame: bytes | str, code: int
) -> None:
    with listening(stack, api, session_id) as ws:
        ws.send(to_pcm(silence(0.1)))
        ws.send(frame)
        closed, reason = closed_with(ws)
    assert (closed, bool(reason)) == (code, True)


def test_a_frame_that_is_no_opus_packet_and_an_unknown_encoding_are_refused(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    with listening(stack, api, session_id, encoding="opus") as ws:
        ws.send(opus_packets(silence(0.1))[0])
        ws.send(b"\xff\x00 not an opus packet " * 8)  # a frame count of 0: no decoder takes it
        closed, reason = closed_with(ws)
    assert (closed, "Opus" in reason) == (1007, True)
    with connect(listen_url(stack, session_id, key_of(api), encoding="flac"), open_timeout=30) as ws:
        assert closed_with(ws)[0] == 4400


def test_refusals_before_listening_are_close_codes(api: httpx.Client, session_id: str, stack: Stack) -> None:
    def refusal(url: str) -> int:
        with connect(url, open_timeout=30) as ws:
            return closed_with(ws)[0]

    other = stack.create_key("listen stranger", [Scope.client])
    assert refusal(listen_url(stack, session_id, None)) == 4401
    assert refusal(listen_url(stack, session_id, "vtk_not-a-real-key")) == 4401
    assert refusal(listen_url(stack, session_id, other)) == 4404
    assert refusal(listen_url(stack, "0" * 32, key_of(api))) == 4404


def test_an_stt_worker_killed_mid_utterance_is_replaced_and_the_final_still_comes(
    api: httpx.Client, session_id: str, stack: Stack
) -> None:
    with listening(stack, api, session_id) as ws:
        listen_id = ws.listen_id  # type: ignore[attr-defined]
        sender = stream(ws, spoken_pcm(LINES[0], gap_s=1.5), speed=1.0)
        read_until(ws, is_type("speech_started"), timeout=60)  # a worker holds the listen
        for name in stack.running_workers("stt-cpu"):
            stack.kill(name)  # SIGKILL to its whole process group, mid-sentence
        stack.start_worker("stt-cpu", suffix=f"-after-listen-{int(time.time())}")
        sender.join(timeout=30)
        got = read_until(ws, is_type("ended"), timeout=180)
    said = finals(got)
    assert len(said) == 1 and wer([(LINES[0], said[0]["text"])]) <= WER_LIMIT, got
    claims = redis.Redis.from_url(stack.redis_url).hget(f"listen:{listen_id}:meta", "claims")
    assert int(claims or 0) >= 2  # a second worker took the listen over
    assert [j["_id"] for j in listen_jobs(stack, listen_id)] == [said[0]["job_id"]]
