"""Batch transcription through the API and real STT workers; live speech is never stuck behind it."""

import subprocess
import time
from datetime import datetime
from itertools import pairwise
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import wait_for_job
from tools.spoken import spoken_wav

pytestmark = pytest.mark.e2e

SENTENCE = "The weather is lovely today, so let us go for a walk."


@pytest.fixture(scope="module")
def clip_wav() -> bytes:
    """A real spoken utterance, synthesized with the bundled Piper voice."""
    return spoken_wav(SENTENCE)


def to_format(wav: bytes, args: list[str]) -> bytes:
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "wav", "-i", "pipe:0", *args, "pipe:1"],
        input=wav, capture_output=True, check=True,
    ).stdout  # fmt: skip


def wait_for_batch(api: httpx.Client, batch_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch: dict[str, Any] = api.get(f"/v1/transcriptions/{batch_id}").json()
        if batch["status"] in ("completed", "failed"):
            return batch
        time.sleep(0.3)
    raise AssertionError(f"batch {batch_id} did not finish")


def test_batch_of_several_formats_completes_with_downloads(api: httpx.Client, clip_wav: bytes) -> None:
    files = [
        ("files", ("clip.wav", clip_wav, "audio/wav")),
        ("files", ("clip.mp3", to_format(clip_wav, ["-f", "mp3"]), "audio/mpeg")),
        ("files", ("clip.ogg", to_format(clip_wav, ["-c:a", "libopus", "-f", "ogg"]), "audio/ogg")),
        ("files", ("silence.wav", to_format(clip_wav, ["-af", "volume=0", "-f", "wav"]), "audio/wav")),
    ]
    accepted = api.post("/v1/transcriptions", files=files, data={"options": '{"word_timestamps": true}'})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["files_total"] == 4
    batch = wait_for_batch(api, accepted.json()["batch_id"])
    assert batch["status"] == "completed"
    assert batch["progress"] == {"files_total": 4, "files_done": 3, "files_failed": 1}
    by_name = {f["filename"]: f for f in batch["files"]}
    assert by_name["silence.wav"]["status"] == "failed"
    assert by_name["silence.wav"]["error"]["code"] == "audio_silent"
    for name in ("clip.wav", "clip.mp3", "clip.ogg"):
        result = by_name[name]
        assert result["status"] == "completed"
        text = result["transcript"]["text"].lower()
        assert "weather" in text and "walk" in text
        words = [w for seg in result["transcript"]["segments"] for w in seg["words"]]
        assert words and all(a["start"] <= b["start"] for a, b in pairwise(words))
        srt = api.get(result["downloads"]["srt"])
        assert srt.status_code == 200 and srt.text.startswith("1\n00:00:0")
        assert " --> " in srt.text and "weather" in srt.text.lower()
        vtt = api.get(result["downloads"]["vtt"])
        assert vtt.text.startswith("WEBVTT\n\n") and " --> " in vtt.text
        assert api.get(result["downloads"]["txt"]).text.strip().lower().startswith("the weather")
        assert api.get(result["downloads"]["json"]).json()["language"] == "en"


def test_batch_rejections_have_codes(api: httpx.Client, clip_wav: bytes) -> None:
    not_audio = api.post("/v1/transcriptions", files=[("files", ("a.txt", b"hello " * 50, "text/plain"))])
    assert not_audio.status_code == 415 and not_audio.json()["error"]["code"] == "unsupported_media_type"
    bad_model = api.post(
        "/v1/transcriptions",
        files=[("files", ("a.wav", clip_wav, "audio/wav"))],
        data={"options": '{"model": "x"}'},
    )
    assert bad_model.status_code == 422 and bad_model.json()["error"]["code"] == "validation_error"
    no_files = api.post("/v1/transcriptions", data={"options": "{}"}, files=[("other", ("a", b"", "x/y"))])
    assert no_files.status_code == 422


def test_live_utterance_is_not_delayed_by_a_50_file_batch(
    api: httpx.Client, session_id: str, clip_wav: bytes
) -> None:
    batch = api.post(
        "/v1/transcriptions", files=[("files", (f"f{i}.wav", clip_wav, "audio/wav")) for i in range(50)]
    ).json()
    # Wait until the batch is really being worked on, then speak.
    while api.get(f"/v1/transcriptions/{batch['batch_id']}").json()["progress"]["files_done"] < 1:
        time.sleep(0.1)
    live = api.post(
        f"/v1/sessions/{session_id}/utterances", files={"audio": ("u.wav", clip_wav, "audio/wav")}
    )
    submitted = datetime.fromisoformat(api.get(live.json()["status_url"]).json()["created_at"])
    job = wait_for_job(api, live.json()["job_id"])
    assert job["status"] == "completed", job["error"]
    waited = (datetime.fromisoformat(job["timings"]["stt"]["started_at"]) - submitted).total_seconds()
    progress = api.get(f"/v1/transcriptions/{batch['batch_id']}").json()
    task_seconds = max(f["seconds"] or 0 for f in progress["files"] if f["status"] == "completed")
    # At most the batch file already in progress runs first (plus queue hand-over overhead).
    assert waited <= task_seconds + 1.0, (waited, task_seconds)
    finished = wait_for_batch(api, batch["batch_id"])
    assert finished["progress"]["files_done"] == 50
