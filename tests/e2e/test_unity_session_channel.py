"""The Unity package's session client against the real stack: SessionChannelClient.cs (built with Mono
and a minimal UnityEngine stand-in) subscribed to WS /v1/sessions/{id}/ws, feeding the core's
SessionPlayer the way SessionAvatar does in Unity.

An operator's commands and a verbatim line reach it; its connection dies mid-line and it resumes with
its last id. It must receive exactly the events a plain subscriber of the session received, in the
same order, download every segment's WAV, play the line's segments in order with valid tracks, and
apply every command once.
"""

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.integration.test_unity_core import PACKAGE, compile_library, missing_toolchain
from tools.stack import Stack

pytestmark = pytest.mark.e2e

HARNESS = Path(__file__).resolve().parent / "unity"
LINE = "[happy] Hello everyone, welcome back to the stream. Thanks for being here tonight! [wave]"
Report = dict[str, str]


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = missing_toolchain()
    if reason:
        pytest.skip(reason)
    build = tmp_path_factory.mktemp("unity-harness")
    core = build / "VTuber.Animation.dll"
    compile_library(core, PACKAGE / "Runtime" / "Core", [])
    exe = build / "SessionHarness.exe"
    sources = [PACKAGE / "Runtime" / "Unity" / "SessionChannelClient.cs", *sorted(HARNESS.glob("*.cs"))]
    command = [
        "mcs",
        "-warnaserror",
        "-target:exe",
        f"-out:{exe}",
        f"-r:{core}",
        "-r:System.Runtime.Serialization.dll",
    ]
    result = subprocess.run([*command, *map(str, sources)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return exe


class Harness:
    """The Mono process, its JSON reports collected by a reader thread."""

    def __init__(self, exe: Path, base_url: str, key: str, session_id: str) -> None:
        self.process = subprocess.Popen(
            ["mono", str(exe), base_url, key, session_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.reports: list[Report] = []
        self._lines: queue.Queue[Report] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(json.loads(line))

    def wait_for(self, what: str, done: Callable[[Report], bool], timeout: float = 180) -> Report:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"the harness never reported {what}; it reported {self.reports}"
            try:
                report = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.reports.append(report)
            if done(report):
                return report

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def of(self, kind: str) -> list[Report]:
        return [report for report in self.reports if report["kind"] == kind]

    def wait_until(self, what: str, done: Callable[[list[Report]], bool], timeout: float = 180) -> None:
        """Until ``done`` holds for everything reported so far."""
        if not done(self.reports):
            self.wait_for(what, lambda _: done(self.reports), timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)


def ended(*job_ids: str) -> Callable[[list[dict[str, Any]]], bool]:
    """Every one of ``job_ids`` has its job.completed among the reports (or frames' data)."""

    def done(items: list[dict[str, Any]]) -> bool:
        completed = {i.get("job") for i in items if i.get("type") == "job.completed"}
        return completed.issuperset(job_ids)

    return done


class Observer:
    """A plain subscriber of the session, read all along (an unread socket stops answering keep-alives)."""

    def __init__(self, url: str) -> None:
        self.frames: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._served = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()

    def _read(self, url: str) -> None:
        with connect(url, open_timeout=30) as ws:
            while not self._stop.is_set():
                try:
                    frame = json.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
                if frame["event"] == "ping":
                    self._served.set()
                else:
                    self.frames.append(frame)

    def wait_served(self, timeout: float) -> None:
        assert self._served.wait(timeout), "the plain subscriber got no frame"

    def events_until(self, *job_ids: str, timeout: float = 60) -> list[tuple[str, str, str]]:
        """(id, type, job) of every event, once the jobs have ended; then it leaves."""
        deadline = time.monotonic() + timeout
        while not ended(*job_ids)([{"type": f["event"], "job": f["data"]["job_id"]} for f in self.frames]):
            assert time.monotonic() < deadline, f"the plain subscriber never saw {job_ids} end: {self.frames}"
            time.sleep(0.05)
        self.close()
        return [(f["id"], f["event"], f["data"]["job_id"]) for f in self.frames]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30, headers=stack.api_headers) as client:
        yield client


def test_the_unity_session_client_resumes_mid_line_and_plays_every_segment_and_command(
    harness: Path, stack: Stack, admin: httpx.Client
) -> None:
    created = admin.post("/v1/sessions", json={})
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    key = stack.api_key
    observer = Observer(
        stack.api_url.replace("http://", "ws://", 1) + f"/v1/sessions/{session_id}/ws?access_token={key}"
    )
    unity = Harness(harness, stack.api_url, key, session_id)
    try:
        # The server accepts a socket before it reads where the session's log stands: a first frame (a
        # ping) shows each subscriber is being served, so nothing sent from now on can pass it by.
        unity.wait_for("a first frame", lambda r: r["kind"] == "heard", timeout=120)
        observer.wait_served(timeout=120)
        commands: list[dict[str, Any]] = [
            {"action": "expression", "expression": "happy", "weight": 0.6, "duration_s": 1.2},
            {"action": "motion", "motion": "nod"},
            {"action": "look_at", "x": -0.25, "y": 1.4, "z": 1.5},
            {"action": "reset"},
        ]
        response = admin.post(f"/v1/sessions/{session_id}/avatar", json=commands[0])
        assert response.status_code == 200, response.text
        spoken = admin.post(f"/v1/sessions/{session_id}/speak", json={"text": LINE})
        assert spoken.status_code == 202, spoken.text
        job_id = spoken.json()["job_id"]

        # The connection dies once the first audio is announced; the rest comes through the next one.
        unity.wait_for("the line's first audio", lambda r: r.get("type") == "segment.audio_ready")
        unity.send("drop")
        dropped = unity.wait_for("the drop", lambda r: r["kind"] == "dropped")
        resumed = unity.wait_for("a new connection", lambda r: r["kind"] == "connected", timeout=60)
        assert resumed["resume"] == dropped["resume"] != "", "the new connection asked for what came after"
        for command in commands[1:]:
            response = admin.post(f"/v1/sessions/{session_id}/avatar", json=command)
            assert response.status_code == 200, response.text
        last_command = response.json()["id"]
        unity.wait_until("the ends of the line and of the last command", ended(job_id, last_command))
        unity.send("quit")
        summary = unity.wait_for("the summary", lambda r: r["kind"] == "summary", timeout=60)
        assert unity.process.wait(60) == 0
        observed = observer.events_until(job_id, last_command)
    finally:
        unity.stop()
        observer.close()

    received = [(r["id"], r["type"], r["job"]) for r in unity.of("event")]
    assert received == observed, "the Unity client saw what a plain subscriber saw, across its reconnect"
    assert summary["malformed"] == "0", "every frame the server sent parsed"

    line = admin.get(f"/v1/jobs/{job_id}").json()
    total = len(line["segments"])
    assert line["status"] == "completed" and total >= 2, line
    fetched = [r for r in unity.of("fetched") if r["job"] == job_id]
    assert sorted(int(r["index"]) for r in fetched) == list(range(total)), "each segment's audio fetched once"
    assert all(r["format"] == "RIFFWAVE" for r in fetched), fetched
    played = unity.of("play")
    assert [r["audio"] for r in played] == [f"{job_id}/{index}" for index in range(total)]
    assert [r["sequence"] for r in played] == [str(number) for number in range(total)]
    assert not unity.of("drop")
    late = {r["sequence"] for r in unity.of("track")}
    for report in played:
        assert report["track"] == "with" or report["sequence"] in late, f"{report} never got its track"
    assert all(r["problems"] == "" for r in [*played, *unity.of("track")]), "every track keeps the contract"

    assert [r["line"] for r in unity.of("command")] == [
        "expression happy 0.6 for 1.2 fade 0.3",
        "motion nod",
        "look at -0.25 1.4 1.5",
        "reset",
    ]
