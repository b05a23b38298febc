"""The `vtuber` command line against the running stack: every command, in process (Typer's
CliRunner), and the installed console script once as a real process for its error path."""

import json
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse
from typer.testing import CliRunner, Result

from schemas.api_keys import Scope
from tests.fakes.cutting_proxy import CuttingProxy
from tests.wer import wer
from tools.spoken import spoken_wav
from tools.stack import Stack
from tools.vtuber.app import app

pytestmark = pytest.mark.e2e

SPOKEN = "Please remember to buy milk, eggs and bread on your way home."
MAX_WER = 0.35  # one clip of 12 words: tiny.en slips a word now and then (see test_batch.py)
JOB_LINE = re.compile(r"^job ([0-9a-f]{32}) ", re.MULTILINE)
VTUBER_SCRIPT = Path(sys.executable).with_name("vtuber")


class Vtuber:
    """Runs the CLI in process with one API key, as a user with VTUBER_API_URL/KEY set would."""

    def __init__(self, api_url: str, key: str) -> None:
        self.env = {"VTUBER_API_URL": api_url, "VTUBER_API_KEY": key, "COLUMNS": "250"}

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(app, list(args), env=self.env)
        if ok:
            assert result.exit_code == 0, f"vtuber {' '.join(args)}: {result.output}\n{result.exception!r}"
        assert "Traceback" not in result.output
        return result


def refused(result: Result, code: str, exit_code: int = 1) -> None:
    """The CLI's one-line report of the API's error code, and nothing more."""
    assert result.exit_code == exit_code, result.output
    assert result.stderr.startswith(f"error: {code}: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.fixture(scope="module")
def started() -> str:
    """When this module began: exports are limited to what it made."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def client_key(stack: Stack) -> str:
    return stack.create_key("vtuber cli client", [Scope.client])


@pytest.fixture(scope="module")
def vtuber(stack: Stack, client_key: str) -> Vtuber:
    return Vtuber(stack.api_url, client_key)


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Vtuber:
    return Vtuber(stack.api_url, stack.api_key)


@pytest.fixture(scope="module")
def http(stack: Stack, client_key: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {client_key}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def spoken_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "milk.wav"
    path.write_bytes(spoken_wav(SPOKEN))
    return path


@pytest.fixture(scope="module")
def turns(
    vtuber: Vtuber,
    http: httpx.Client,
    spoken_clip: Path,
    started: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, object]:
    """A typed turn followed event by event in a new session, then a spoken one in that session."""
    out = tmp_path_factory.mktemp("turns")
    upstream = httpx.URL(vtuber.env["VTUBER_API_URL"])
    with CuttingProxy(upstream.host, upstream.port or 80) as proxy:  # the event stream drops once
        through_proxy = Vtuber(proxy.url, vtuber.env["VTUBER_API_KEY"])
        typed = through_proxy("say", "Hi Hana! What are we playing today?", "--follow", "--out", str(out))
    typed_job = http.get(f"/v1/jobs/{JOB_LINE.findall(typed.stdout)[0]}").json()
    session = typed_job["session_id"]
    spoken = vtuber("say", "--audio", str(spoken_clip), "--session", session, "--out", str(out))
    spoken_job = http.get(f"/v1/jobs/{JOB_LINE.findall(spoken.stdout)[0]}").json()
    return {
        "typed": typed,
        "typed_job": typed_job,
        "spoken": spoken,
        "spoken_job": spoken_job,
        "out": out,
        "cuts": proxy.cuts,
    }


def test_say_follows_a_typed_turn_and_saves_its_audio(turns: dict, http: httpx.Client) -> None:
    result, job, out = turns["typed"], turns["typed_job"], turns["out"]
    assert job["status"] == "completed", job
    assert f"session {job['session_id']}" in result.stderr  # a new session, named for --session
    events = [line.split()[2] for line in result.stdout.splitlines() if re.match(r"^\s*\d+\.\d+ s  ", line)]
    assert events[0] == "job.queued" and events[-1] == "job.completed", result.stdout
    assert "segment.audio_ready" in events and "transcript.ready" not in events  # typed: no STT
    # The stream was cut after its first event; resumed after the last one seen, nothing was
    # missed or printed twice: the job's whole log, in order.
    assert turns["cuts"] == 1
    with connect_sse(http, "GET", f"/v1/jobs/{job['id']}/events") as log:
        assert events == [event.event for event in log.iter_sse()]
    assert f"reply:      {job['reply']['text']}" in result.stdout
    for segment in job["segments"]:
        saved = out / f"{job['id']}-{segment['index']}.wav"
        assert saved.read_bytes()[:4] == b"RIFF", saved
        assert saved.stat().st_size > 1000
        assert str(saved) in result.stdout


def test_say_audio_prints_what_was_heard(turns: dict) -> None:
    result, job = turns["spoken"], turns["spoken_job"]
    assert job["status"] == "completed", job
    assert job["session_id"] == turns["typed_job"]["session_id"]
    heard = re.search(r"^said:\s+(.*)$", result.stdout, re.MULTILINE)
    assert heard is not None, result.stdout
    assert heard.group(1) == job["transcript"]["text"].strip()
    assert wer([(SPOKEN, heard.group(1))]) <= MAX_WER, heard.group(1)
    assert "stage.started" not in result.stdout  # without --follow: only the outcome
    assert len(list(turns["out"].glob(f"{job['id']}-*.wav"))) == len(job["segments"]) > 0


def test_jobs_and_job(vtuber: Vtuber, turns: dict) -> None:
    typed, spoken = turns["typed_job"], turns["spoken_job"]
    listed = vtuber("jobs", "--session", typed["session_id"]).stdout
    assert listed.index(spoken["id"]) < listed.index(typed["id"])  # newest first
    as_json = json.loads(vtuber("jobs", "--session", typed["session_id"], "--json").stdout)
    assert [job["id"] for job in as_json] == [spoken["id"], typed["id"]]
    shown = vtuber("job", spoken["id"]).stdout
    assert f"job {spoken['id']}  audio  completed" in shown
    assert spoken["reply"]["text"] in shown
    assert all(stage in shown for stage in ("stt", "llm", "tts", "animation"))
    refused(vtuber("job", "0" * 32, ok=False), "not_found")


def test_recent_jobs_of_all_sessions(admin: Vtuber, vtuber: Vtuber, stack: Stack, turns: dict) -> None:
    if "/v1/jobs" not in httpx.get(f"{stack.api_url}/openapi.json").json()["paths"]:
        pytest.skip("the recent-jobs route (GET /v1/jobs) is not served by this API")
    listed = admin("jobs", "--limit", "50").stdout
    assert turns["spoken_job"]["id"] in listed and turns["typed_job"]["id"] in listed
    refused(vtuber("jobs", ok=False), "forbidden")  # every session's jobs: admin only


def test_transcribe_writes_one_file_per_clip_in_the_format(
    vtuber: Vtuber, spoken_clip: Path, tmp_path: Path
) -> None:
    second = tmp_path / "thanks.wav"
    second.write_bytes(spoken_wav("Thank you for watching the stream, see you again next week."))
    out = tmp_path / "srt"
    result = vtuber("transcribe", str(spoken_clip), str(second), "--format", "srt", "--out", str(out))
    assert sorted(path.name for path in out.iterdir()) == ["milk.srt", "thanks.srt"]
    srt = (out / "milk.srt").read_text()
    assert srt.startswith("1\n") and " --> " in srt.splitlines()[1], srt
    text = " ".join(line for line in srt.splitlines() if line and "-->" not in line and not line.isdigit())
    assert wer([(SPOKEN, text)]) <= MAX_WER, text
    assert re.search(r"batch [0-9a-f]{32}: 2 files", result.stderr)
    vtt = vtuber("transcribe", str(second), "--format", "vtt", "--out", str(out)).stdout
    assert (out / "thanks.vtt").read_text().startswith("WEBVTT"), vtt
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are notes, not sound")
    refused(
        vtuber("transcribe", str(second), str(not_audio), "--out", str(out), ok=False),
        "unsupported_media_type",
    )


def test_export_chat_and_speech(
    admin: Vtuber, vtuber: Vtuber, turns: dict, started: str, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.jsonl"
    admin("export", "chat", "--out", str(chat), "--since", started)
    lines = [json.loads(line) for line in chat.read_text().splitlines()]
    said = {message["content"] for line in lines for message in line["messages"] if message["role"] == "user"}
    assert turns["typed_job"]["input_text"] in said
    speech = tmp_path / "speech.tar"
    admin("export", "speech", "--out", str(speech), "--since", started, "--source", "utterances")
    with tarfile.open(speech) as tar:
        manifest = [json.loads(line) for line in tar.extractfile("manifest.jsonl").read().splitlines()]  # type: ignore[union-attr]
        assert {entry["text"].strip() for entry in manifest} >= {
            turns["spoken_job"]["transcript"]["text"].strip()
        }
        assert all(tar.getmember(entry["audio_filepath"]).size > 0 for entry in manifest)
    assert not list(tmp_path.glob("*.part"))
    refused(vtuber("export", "chat", "--out", str(tmp_path / "no.jsonl"), ok=False), "forbidden")
    assert not (tmp_path / "no.jsonl").exists()
    refused(admin("export", "chat", "--out", "-", "--since", "yesterday", ok=False), "validation_error")


def test_keys_create_list_revoke(admin: Vtuber, stack: Stack) -> None:
    key = admin("keys", "create", "--name", "cli test key", "--quiet").stdout.strip()
    key_id = key.split("_")[1]
    listed = admin("keys", "list").stdout
    assert re.search(rf"{key_id}[\s│]+cli test key[\s│]+client[\s│]", listed), listed
    as_new = Vtuber(stack.api_url, key)
    refused(as_new("stt-device", ok=False), "forbidden")  # a valid key of the client scope
    assert f"key {key_id} (cli test key) revoked" in admin("keys", "revoke", key_id).stdout
    refused(as_new("stt-device", ok=False), "unauthorized")  # at once: this API dropped it
    refused(admin("keys", "revoke", key_id, ok=False), "conflict")
    refused(admin("keys", "create", "--name", "", ok=False), "validation_error")


def test_stt_device_round_trip(admin: Vtuber, stack: Stack) -> None:
    headers = stack.api_headers
    before = httpx.get(f"{stack.api_url}/v1/control/stt", headers=headers).json()["mode"]
    try:
        assert "mode cpu: new STT work goes to the cpu pool" in admin("stt-device", "cpu").stdout
        assert httpx.get(f"{stack.api_url}/v1/control/stt", headers=headers).json()["mode"] == "cpu"
        assert "mode gpu" in admin("stt-device", "gpu").stdout
        assert "mode gpu" in admin("stt-device").stdout
        assert admin("stt-device", "sideways", ok=False).exit_code == 2  # a usage error, before any request
    finally:
        httpx.put(f"{stack.api_url}/v1/control/stt", headers=headers, json={"mode": before})


def test_installed_script_reports_a_bad_key_without_a_traceback(stack: Stack) -> None:
    env = {"PATH": "/usr/bin:/bin", "VTUBER_API_URL": stack.api_url, "VTUBER_API_KEY": "vtk_not_a_key"}
    run = subprocess.run(
        [str(VTUBER_SCRIPT), "jobs", "--session", "0" * 32],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1, run
    assert run.stderr.startswith("error: unauthorized: this API key is not valid"), run.stderr
    assert "Traceback" not in run.stderr + run.stdout and run.stdout == ""
