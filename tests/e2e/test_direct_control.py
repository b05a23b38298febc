"""Direct control on the real stack: verbatim lines, manual avatar commands, session-less animation.

"Never reaches the LLM" is read from Celery's own task-sent events (every process of the stack
publishes one per task it sends): a chat turn in the same test shows that the observable sees
``llm.reply`` sends, and the line's job id appears in none of them.
"""

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from pipelines.celery_app import make_celery
from pipelines.queues import TaskName
from pipelines.settings import Settings
from schemas.animation import AnimationTrack
from tests.wer import wer
from tools.stack import Stack

pytestmark = pytest.mark.e2e

LINE = "[happy] Thank you so much for the follow! [wave] [relaxed] Please enjoy the stream tonight."
SPOKEN = "Thank you so much for the follow! Please enjoy the stream tonight."
# Piper's voice through tiny.en: the same bound test_batch.py measured for one clip of this length.
MAX_LINE_WER = 0.35
FINAL = ("completed", "failed", "interrupted")


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30, headers=stack.api_headers) as client:
        yield client


class TaskSends:
    """Every task sent anywhere in the stack while it runs: (task name, its args as sent)."""

    def __init__(self, redis_url: str) -> None:
        self.app = make_celery(Settings(redis_url=redis_url))
        self.sent: list[tuple[str, str]] = []
        self.listening = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _record(self, event: dict[str, Any]) -> None:
        self.sent.append((str(event.get("name")), str(event.get("args"))))

    def _run(self) -> None:
        with self.app.connection() as connection:
            receiver = self.app.events.Receiver(connection, handlers={"task-sent": self._record})
            for _ in receiver.itercapture(limit=None, timeout=None, wakeup=False):
                self.listening.set()  # the first drain returned: the subscription is in place
                if self.stop.is_set():
                    return

    def __enter__(self) -> "TaskSends":
        self.thread.start()
        assert self.listening.wait(30), "Celery's event stream did not open within 30 s"
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(10)

    def of_job(self, job_id: str) -> list[str]:
        return [name for name, args in self.sent if job_id in args]


def wait_for_end(client: httpx.Client, job_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in FINAL:
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not end within {timeout} s")


def job_events(client: httpx.Client, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    with connect_sse(client, "GET", f"/v1/jobs/{job_id}/events", timeout=60) as source:
        assert source.response.status_code == 200
        return [(e.event, json.loads(e.data)) for e in source.iter_sse() if e.data]


def transcribe(client: httpx.Client, wavs: list[bytes]) -> str:
    """The bundled Whisper's transcript of the clips, in order, through the batch API."""
    files = [("files", (f"{n}.wav", wav, "audio/wav")) for n, wav in enumerate(wavs)]
    accepted = client.post("/v1/transcriptions", files=files)
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    deadline = time.monotonic() + 300
    while (batch := client.get(f"/v1/transcriptions/{batch_id}").json())["status"] not in (
        "completed",
        "failed",
    ):
        assert time.monotonic() < deadline, "the transcription batch did not finish within 300 s"
        time.sleep(0.3)
    by_index = {f["index"]: f for f in batch["files"]}
    assert all(f["status"] == "completed" for f in by_index.values()), batch
    return " ".join(by_index[n]["transcript"]["text"] for n in range(len(wavs)))


def test_a_verbatim_line_skips_the_llm_follows_the_turn_before_it_and_says_its_words(
    api: httpx.Client, admin: httpx.Client, stack: Stack, session_id: str
) -> None:
    with TaskSends(stack.redis_url) as sends:
        chat = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": "Say hello in one sentence."})
        assert chat.status_code == 202, chat.text
        spoken = admin.post(f"/v1/sessions/{session_id}/speak", json={"text": LINE})
        assert spoken.status_code == 202, spoken.text
        chat_id, line_id = chat.json()["job_id"], spoken.json()["job_id"]
        assert spoken.json()["status_url"].endswith(f"/v1/jobs/{line_id}")
        assert wait_for_end(api, chat_id)["status"] == "completed"
        line = wait_for_end(api, line_id)  # the session's owner reads the line like its own turns
    assert line["status"] == "completed", line
    assert (line["kind"], line["input_text"], line["transcript"]) == ("speak", LINE, None)
    assert line["reply"]["text"] == SPOKEN and line["reply"]["done"]
    assert "llm" not in line["timings"] and "tts" in line["timings"]
    assert [(s["text"], s["emotion"], s["motions"]) for s in line["segments"]] == [
        ("Thank you so much for the follow!", "happy", []),
        ("Please enjoy the stream tonight.", "relaxed", ["wave"]),
    ]
    assert all(s["ready"] and s["audio_url"] and s["animation"] for s in line["segments"])

    # The observable works (the chat turn's reply task was seen) and the line never had one.
    assert TaskName.reply in sends.of_job(chat_id)
    assert TaskName.reply not in sends.of_job(line_id)
    assert set(sends.of_job(line_id)) == {TaskName.synthesize_segment, TaskName.animate_segment}
    # Queued in order: the line's voice was sent only after every segment of the turn before it.
    order = [(name, args) for name, args in sends.sent if name == TaskName.synthesize_segment]
    last_chat = max(i for i, (_, args) in enumerate(order) if chat_id in args)
    first_line = min(i for i, (_, args) in enumerate(order) if line_id in args)
    assert last_chat < first_line, order

    types = [kind for kind, _ in job_events(api, line_id)]
    assert types[0] == "job.queued" and types[-1] == "job.completed", types
    assert types.count("segment.queued") == types.count("segment.animation_ready") == 2
    assert "stage.started" not in types  # no llm stage: segments go straight to the voice

    wavs = [api.get(s["audio_url"]).content for s in line["segments"]]
    heard = transcribe(api, wavs)
    assert wer([(SPOKEN, heard)]) <= MAX_LINE_WER, heard


def test_a_line_with_interrupt_cuts_the_turn_in_progress(
    api: httpx.Client, admin: httpx.Client, session_id: str
) -> None:
    chat = api.post(
        f"/v1/sessions/{session_id}/utterances",
        json={"text": "Tell me three short facts about the moon, one sentence each."},
    )
    assert chat.status_code == 202, chat.text
    chat_id = chat.json()["job_id"]
    deadline = time.monotonic() + 120
    while api.get(f"/v1/jobs/{chat_id}").json()["status"] == "queued":
        assert time.monotonic() < deadline, "the chat turn never started"
        time.sleep(0.05)
    spoken = admin.post(
        f"/v1/sessions/{session_id}/speak", json={"text": "Sorry, one moment please.", "interrupt": True}
    )
    assert spoken.status_code == 202, spoken.text
    cut = wait_for_end(api, chat_id)
    if cut["status"] == "completed":
        pytest.fail("the turn finished before the line could interrupt it (the reply was too short)")
    assert cut["status"] == "interrupted" and cut["interruption"]["by"] == "speak", cut
    line = wait_for_end(api, spoken.json()["job_id"])
    assert line["status"] == "completed" and line["reply"]["text"] == "Sorry, one moment please."


def session_reader(
    client: httpx.Client, session_id: str, count: int, into: list[tuple[str, dict[str, Any]]]
) -> None:
    """The session stream from its start (resume after 0-0: no race with the commands sent)."""
    headers = {"Last-Event-ID": "0-0"}
    with connect_sse(
        client, "GET", f"/v1/sessions/{session_id}/events", headers=headers, timeout=60
    ) as source:
        for event in source.iter_sse():
            if event.data:
                into.append((event.event, json.loads(event.data)))
            if len(into) == count:
                return


def test_avatar_commands_reach_every_subscriber_in_order_and_stay_in_history(
    api: httpx.Client, admin: httpx.Client, session_id: str
) -> None:
    commands: list[dict[str, Any]] = [
        {"action": "expression", "expression": "surprised", "weight": 0.8, "duration_s": 1.5, "fade_s": 0.2},
        {"action": "motion", "motion": "waving"},  # a synonym: delivered as the persona's "wave"
        {"action": "look_at", "x": 0.3, "y": 1.5, "z": 2.0},
        {"action": "reset"},
    ]
    seen: list[list[tuple[str, dict[str, Any]]]] = [[], []]
    readers = [
        threading.Thread(target=session_reader, args=(api, session_id, 2 * len(commands), into), daemon=True)
        for into in seen
    ]
    for reader in readers:
        reader.start()
    recorded = []
    for command in commands:
        response = admin.post(f"/v1/sessions/{session_id}/avatar", json=command)
        assert response.status_code == 200, response.text
        recorded.append(response.json())
    for reader in readers:
        reader.join(60)
        assert not reader.is_alive(), f"a subscriber saw only {seen}"

    expected_commands = [
        {**commands[0]},
        {"action": "motion", "motion": "wave"},
        {"action": "look_at", "x": 0.3, "y": 1.5, "z": 2.0},
        {"action": "reset"},
    ]
    assert [job["command"] for job in recorded] == expected_commands
    assert all(job["kind"] == "avatar" and job["status"] == "completed" for job in recorded)
    assert seen[0] == seen[1]
    expected = [(kind, job["id"]) for job in recorded for kind in ("avatar.command", "job.completed")]
    assert [(kind, data["job_id"]) for kind, data in seen[0]] == expected
    delivered = [data["command"] for kind, data in seen[0] if kind == "avatar.command"]
    assert delivered == expected_commands

    history = api.get(f"/v1/sessions/{session_id}/jobs").json()
    assert [job["command"] for job in history if job["kind"] == "avatar"] == expected_commands[::-1]


def test_unknown_expression_or_motion_is_refused_with_the_valid_names(
    api: httpx.Client, admin: httpx.Client, session_id: str
) -> None:
    unknown_expression = admin.post(
        f"/v1/sessions/{session_id}/avatar", json={"action": "expression", "expression": "smug"}
    )
    assert unknown_expression.status_code == 422
    error = unknown_expression.json()["error"]
    assert error["code"] == "unknown_expression"
    assert error["details"][0]["valid"] == ["neutral", "happy", "angry", "sad", "relaxed", "surprised"]

    unknown_motion = admin.post(
        f"/v1/sessions/{session_id}/avatar", json={"action": "motion", "motion": "moonwalk"}
    )
    assert unknown_motion.status_code == 422
    error = unknown_motion.json()["error"]
    assert error["code"] == "unknown_motion"
    assert error["details"][0]["valid"] == ["wave", "nod", "shake_head", "bow"]  # personas/hana.yaml

    nothing_to_say = admin.post(f"/v1/sessions/{session_id}/speak", json={"text": "[happy] [wave]"})
    assert nothing_to_say.status_code == 422
    assert nothing_to_say.json()["error"]["code"] == "validation_error"
    assert api.get(f"/v1/sessions/{session_id}/jobs").json() == []  # nothing was recorded


def test_animation_without_a_session_returns_audio_and_tracks(admin: httpx.Client) -> None:
    accepted = admin.post(
        "/v1/animation", json={"text": "[surprised] Oh, hello there! [nod] Nice to see you."}
    )
    assert accepted.status_code == 202, accepted.text
    job = wait_for_end(admin, accepted.json()["job_id"])
    assert job["status"] == "completed", job
    assert (job["kind"], job["session_id"]) == ("animation", None)
    assert [s["emotion"] for s in job["segments"]] == ["surprised", "surprised"]
    for segment in job["segments"]:
        track = AnimationTrack.model_validate(segment["animation"])
        assert track.visemes and track.expressions and track.duration_s > 0
        audio = admin.get(segment["audio_url"])
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    assert [
        m.name for s in job["segments"] for m in AnimationTrack.model_validate(s["animation"]).motions
    ] == ["nod"]
    types = [kind for kind, _ in job_events(admin, job["id"])]
    assert types[0] == "job.queued" and types[-1] == "job.completed", types


def test_a_client_scope_key_may_not_use_direct_control(api: httpx.Client, session_id: str) -> None:
    for path, body in [
        (f"/v1/sessions/{session_id}/speak", {"text": "hello"}),
        (f"/v1/sessions/{session_id}/avatar", {"action": "reset"}),
        ("/v1/animation", {"text": "hello"}),
    ]:
        response = api.post(path, json=body)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "forbidden"
