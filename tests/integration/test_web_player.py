"""The web player: its JS core reads the backend's animation tracks exactly, and its router serves the page.

The JS tests (api/static/track.test.mjs, node's built-in runner) get a fixture of tracks built by
``build_animation_track`` with the Python reference sampler's weights, and a job from the API's own
presenter; they must sample within 1e-6 of Python, validate every track and play the job through.
"""

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers
from api.routes import web
from pipelines.job_views import segment_out
from pipelines.settings import Settings
from schemas.animation import AnimationTrack
from schemas.jobs import JobKind, JobOut, JobStatus
from tests.track_samples import contract_tracks, ready_segment_docs, reference_weights

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"
JS_TESTS = STATIC / "track.test.mjs"
FEED_TESTS = STATIC / "turn_feed.test.mjs"
OVERLAY_TESTS = STATIC / "overlay.test.mjs"
PAGES = {"/player": "player.js", "/overlay/" + "0" * 32: "overlay.js"}
CONTRACT_TESTS = (
    "tracks built by the backend validate with no problem",
    "JS sampling equals the Python reference sampler",
    "a job from the API's presenter plays through with every motion once",
)
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node not found: apt-get install -y nodejs (Node 18+)")


def expectations(name: str, track: AnimationTrack) -> dict[str, Any]:
    """Reference weights at frame times (before 0 and after the end too), keyframes and midpoints."""
    samples, blinks = reference_weights(track, fps=60, curve_key="curve")
    return {
        "name": name,
        "track": track.model_dump(mode="json"),
        "samples": samples,
        "blinks": blinks,
    }


def completed_job(tracks: list[AnimationTrack]) -> dict[str, Any]:
    """A completed job as GET /v1/jobs/{id} returns it, through the API's own segment presenter."""
    settings = Settings()
    docs = ready_segment_docs(tracks)
    now = datetime.now(UTC)
    job = JobOut(
        id="job1",
        session_id="session1",
        kind=JobKind.text,
        status=JobStatus.completed,
        persona="default",
        persona_version="1",
        input_text="Hello!",
        segments=[segment_out(settings, doc) for doc in docs],
        segments_total=len(docs),
        created_at=now,
        updated_at=now,
    )
    data: dict[str, Any] = json.loads(job.model_dump_json())
    return data


@pytest.fixture(scope="module")
def contract_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tracks = contract_tracks()
    assert {track.source for track in tracks.values()} == {"alignment", "energy"}
    assert sum(len(track.blinks) for track in tracks.values()) > 0, "no blink to check"
    path = tmp_path_factory.mktemp("web") / "contract.json"
    path.write_text(
        json.dumps(
            {
                "tracks": [expectations(name, track) for name, track in tracks.items()],
                "job": completed_job(list(tracks.values())),
            }
        )
    )
    return path


def run_node(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    assert NODE is not None
    result = subprocess.run(
        [NODE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=STATIC.parents[1],
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, f"node {' '.join(args)} failed:\n{result.stdout[-6000:]}{result.stderr}"
    return result.stdout


def tap_counts(output: str) -> dict[str, int]:
    """The summary of node's TAP reporter: pass, fail, skipped, todo and cancelled counts."""
    return {
        key: int(value)
        for key, value in re.findall(r"^# (pass|fail|skipped|todo|cancelled) (\d+)$", output, re.M)
    }


@needs_node
def test_js_core_passes_its_tests_and_reads_the_backend_tracks_like_python(contract_file: Path) -> None:
    output = run_node(
        "--test", "--test-reporter=tap", str(JS_TESTS), env={"VTUBER_WEB_CONTRACT": str(contract_file)}
    )
    counts = tap_counts(output)
    assert counts["pass"] >= 15 and counts["fail"] == counts["skipped"] == counts["cancelled"] == 0, output
    for name in CONTRACT_TESTS:
        assert re.search(rf"^\s*ok \d+ - {re.escape(name)}$", output, re.M), (
            f"{name!r} did not pass:\n{output}"
        )


@needs_node
def test_turn_feed_passes_its_tests() -> None:
    """turn_feed.mjs folds the job's events and its polled views into the same player actions."""
    output = run_node("--test", "--test-reporter=tap", str(FEED_TESTS))
    counts = tap_counts(output)
    assert counts["pass"] >= 18 and counts["fail"] == counts["skipped"] == counts["cancelled"] == 0, output


@needs_node
def test_overlay_core_passes_its_tests() -> None:
    """The overlay's turn queue, manual commands, face shapes and channel helpers."""
    output = run_node("--test", "--test-reporter=tap", str(OVERLAY_TESTS))
    counts = tap_counts(output)
    assert counts["pass"] >= 16 and counts["fail"] == counts["skipped"] == counts["cancelled"] == 0, output


@needs_node
@pytest.mark.parametrize("script", ["player.js", "overlay.js"])
def test_page_script_is_a_valid_module(script: str) -> None:
    run_node("--input-type=module", "--check", stdin=(STATIC / script).read_text())


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(web.router)
    return TestClient(app)


def test_player_page_loads_its_script_by_a_relative_url(client: TestClient) -> None:
    page = client.get("/player")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="static/player.js">' in page.text  # relative: works under a prefix
    for element in ("face-slot", "text", "send", "talk", "log", "motion"):
        assert f'id="{element}"' in page.text, element
    face = client.get("/static/face.mjs").text
    for part in ("head", "mouth", "eye-left", "brow-right"):
        assert f'id="{part}"' in face, part
    script = client.get("/static/player.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert 'from "./track.mjs"' in script.text and 'from "./face.mjs"' in script.text
    assert not re.search(r"""["'`]/v1/""", script.text), "API paths must be relative to the page"


def test_overlay_page_is_transparent_and_loads_its_script_from_the_api_root(client: TestClient) -> None:
    page = client.get("/overlay/" + "0" * 32)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="../static/overlay.js">' in page.text
    assert "background: transparent" in page.text
    for element in ("face-slot", "subtitle"):
        assert f'id="{element}"' in page.text, element
    for name in ("overlay.js", "session_channel.mjs"):
        assert not re.search(r"""["'`]/v1/""", (STATIC / name).read_text()), f"{name}: absolute API path"


def imported_modules(script: str) -> set[str]:
    """Every module a page script loads, directly or through the modules it imports."""
    found: set[str] = set()
    pending = [script]
    while pending:
        for name in re.findall(r'from "\./([\w.]+)"', (STATIC / pending.pop()).read_text()):
            if name not in found:
                found.add(name)
                pending.append(name)
    return found


@pytest.mark.parametrize("script", sorted(PAGES.values()))
def test_every_module_a_page_imports_is_served_as_javascript(client: TestClient, script: str) -> None:
    imported = imported_modules(script)
    assert {"track.mjs", "turn_feed.mjs", "face.mjs"} <= imported
    for name in imported | {script}:
        module = client.get(f"/static/{name}")
        assert module.status_code == 200, name
        assert module.headers["content-type"].startswith("text/javascript")
        assert module.text == (STATIC / name).read_text()


@pytest.mark.parametrize(
    "name",
    ["track.test.mjs", "turn_feed.test.mjs", "overlay.test.mjs", "index.html", "overlay.html", "..%2Fweb.py"],
)
def test_only_the_page_scripts_are_served(client: TestClient, name: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
