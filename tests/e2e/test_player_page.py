"""The talk page at /player in real headless Chromium: a typed line gets a reply that plays with a
moving mouth, speech from Chromium's fake microphone is heard right, the session's history shows on
return, Interrupt cuts the reply off on the server too, and the page never scrolls sideways on a
phone. No console error on the way."""

import io
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.browser import fake_microphone_args, needs_chromium, watch
from tests.e2e.conftest import wait_for_job
from tests.e2e.page_checks import save_screenshots
from tests.wer import wer
from tools.spoken import spoken_wav
from tools.stack import Stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.e2e, needs_chromium]

SPOKEN = "Hello Hana, what games do you like to play?"
# tiny.en hears Piper's voice word for word on clips like this (tests/e2e/test_batch.py measures it);
# the browser adds an Opus round trip. Three slips in nine words still fail a wrong or empty transcript.
MAX_SPOKEN_WER = 0.34
LEAD_S, TAIL_S = 0.4, 1.6  # silence around the clip: the fake device loops it, the recording must not
LONG_STORY = "Tell me a long story about a brave little dragon, in at least six sentences."

MOUTH_RECORDER = """() => {
    window.__mouths = new Set();
    window.__expressions = new Set();
    const tick = () => {
        if (document.body.dataset.state === "playing") {
            window.__mouths.add(document.getElementById("face").dataset.mouthOpen);
            window.__expressions.add(document.body.dataset.expression || "none");
        }
        requestAnimationFrame(tick);
    };
    tick();
}"""
SHOWN = """() => ({
    status: document.getElementById("status").textContent,
    log: document.getElementById("log").innerText,
    data: { ...document.body.dataset },
})"""
TRANSCRIBED = "() => (document.querySelector('#log .you') || {}).textContent?.startsWith('🎤') === false"
HELD_FOR = "(ms) => performance.now() - (window.__since ??= performance.now()) >= ms"
TURN_OVER = "() => document.getElementById('status').textContent === 'Your turn.'"


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """SPOKEN read by the Piper voice, with silence around it, as the PCM WAV Chromium plays as its
    microphone; and how long the speech lasts with its lead-in."""
    with wave.open(io.BytesIO(spoken_wav(SPOKEN))) as clip:
        rate, width, channels = clip.getframerate(), clip.getsampwidth(), clip.getnchannels()
        speech = clip.readframes(clip.getnframes())
    silence = lambda seconds: b"\0" * (int(rate * seconds) * width * channels)  # noqa: E731
    path = tmp_path_factory.mktemp("microphone") / "spoken.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(silence(LEAD_S) + speech + silence(TAIL_S))
    return path, LEAD_S + len(speech) / (rate * width * channels)


@pytest.fixture(scope="module")
def browser(microphone_wav: tuple[Path, float]) -> Iterator["Browser"]:
    """This module's Chromium has a fake microphone that speaks SPOKEN (one browser per module, as
    the shared fixture: Playwright's sync API runs a loop in the main thread while it is open)."""
    from tests.browser import launch_chromium

    with launch_chromium(fake_microphone_args(microphone_wav[0])) as chromium:
        yield chromium


def client_key(api: httpx.Client) -> str:
    return str(api.headers["Authorization"]).removeprefix("Bearer ")


def open_player(browser: "Browser", stack: Stack, key: str) -> tuple["Page", list[str]]:
    page = browser.new_page()
    errors = watch(page).errors
    page.goto(f"{stack.api_url}/player#key={key}")
    page.wait_for_selector("#face #mouth", state="attached", timeout=30_000)
    return page, errors


def wait_on_page(page: "Page", condition: str, what: str, timeout_ms: int = 180_000) -> None:
    """Until ``condition`` holds on the page; on a timeout, what the page showed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(condition, timeout=timeout_ms, polling=100)
    except PlaywrightTimeout as timeout:
        raise AssertionError(f"waited for {what}; the page showed {page.evaluate(SHOWN)}") from timeout


def wait_for_status(
    api: httpx.Client, job_id: str, statuses: set[str], timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (job := api.get(f"/v1/jobs/{job_id}").json())["status"] not in statuses:
        assert time.monotonic() < deadline, f"job {job_id} never reached {statuses}: {job['status']}"
        time.sleep(0.25)
    return dict(job)


def test_a_typed_line_is_answered_aloud_with_a_moving_mouth_and_kept_as_history(
    api: httpx.Client, stack: Stack, browser: "Browser"
) -> None:
    page, errors = open_player(browser, stack, client_key(api))
    try:
        page.evaluate(MOUTH_RECORDER)
        page.fill("#text", "Hello! How are you today?")
        page.click("#send")
        page.wait_for_function("() => document.body.dataset.state === 'playing'", timeout=180_000)
        assert page.is_enabled("#interrupt")
        wait_on_page(page, TURN_OVER, "the reply to play through")
        job = api.get(f"/v1/jobs/{page.evaluate('() => document.body.dataset.job')}").json()
        assert job["status"] == "completed"
        reply = page.text_content("#log .reply")
        assert reply == job["reply"]["text"], "the reply shown is not the job's"
        played = int(page.evaluate("() => document.body.dataset.played"))
        assert played == len(job["segments"]), f"{played} of {len(job['segments'])} segments played"
        mouths = page.evaluate("() => [...window.__mouths].map(Number)")
        assert len(mouths) >= 3 and max(mouths) >= 0.2, f"the mouth did not move: {sorted(mouths)}"
        assert page.is_disabled("#interrupt")
        # The face shows the expressions the reply's tracks carry (when it carries any).
        strong = {
            name
            for segment in job["segments"]
            for name, curve in segment["animation"]["expressions"].items()
            if name != "neutral" and max(key["w"] for key in curve) > 0.4
        }
        shown = set(page.evaluate("() => [...window.__expressions]")) - {"none"}
        assert shown <= set(job["segments"][0]["animation"]["expressions"]), shown
        if strong:
            assert shown & strong, f"the tracks carry {strong}, the face showed {shown or 'none'}"

        # Back on the page later: the conversation so far is shown from the session's history.
        page.reload()
        page.wait_for_function("() => Number(document.body.dataset.history) >= 1", timeout=30_000)
        assert page.text_content("#log .you.past") == "Hello! How are you today?"
        assert page.text_content("#log .reply.past") == job["reply"]["text"]
        save_screenshots(page, "talk")
        assert errors == [], errors
    finally:
        page.close()


def test_speech_from_the_microphone_is_transcribed_and_answered(
    api: httpx.Client, stack: Stack, browser: "Browser", microphone_wav: tuple[Path, float]
) -> None:
    _, speech_s = microphone_wav
    page, errors = open_player(browser, stack, client_key(api))
    try:
        page.hover("#talk")
        page.mouse.down()
        page.wait_for_selector("#talk.recording", timeout=30_000)
        # Hold the button as long as the clip speaks (the recording is the condition), then let go.
        page.wait_for_function(
            HELD_FOR,
            arg=(speech_s + 0.4) * 1000,
            timeout=60_000,
        )
        page.mouse.up()
        # The transcript shows as soon as it is heard; the reply need not play through here.
        wait_on_page(page, TRANSCRIBED, "the transcript")
        heard = page.text_content("#log .you") or ""
        job = wait_for_job(api, page.evaluate("() => document.body.dataset.job"))
        assert job["kind"] == "audio" and job["status"] == "completed", job["status"]
        assert heard == job["transcript"]["text"], "the transcript shown is not the job's"
        assert wer([(SPOKEN, heard)]) <= MAX_SPOKEN_WER, f"heard {heard!r} for {SPOKEN!r}"
        page.wait_for_function(
            "(reply) => document.querySelector('#log .reply').textContent === reply",
            arg=job["reply"]["text"],
            timeout=30_000,
        )
        assert errors == [], errors
    finally:
        page.close()


def test_interrupt_stops_the_voice_and_the_turn(api: httpx.Client, stack: Stack, browser: "Browser") -> None:
    page, errors = open_player(browser, stack, client_key(api))
    try:
        page.fill("#text", LONG_STORY)
        page.click("#send")
        # As soon as the first sentence plays (the rest is still being written), cut it off.
        page.wait_for_function("() => document.body.dataset.state === 'playing'", timeout=180_000)
        job_id = page.evaluate("() => document.body.dataset.job")
        page.click("#interrupt")
        page.wait_for_function("() => document.body.dataset.state === 'idle'", timeout=10_000)
        assert page.is_disabled("#interrupt")
        assert "cut" in (page.get_attribute("#log .reply", "class") or "")
        # The server stops the turn and keeps what was heard: at most the words played so far.
        job = wait_for_status(api, job_id, {"completed", "interrupted", "failed"})
        assert job["status"] == "interrupted" and job["interruption"]["by"] == "cancel", job["status"]
        said = " ".join(segment["text"] for segment in job["segments"])
        heard = job["interruption"]["heard_text"]
        assert said.startswith(heard) and len(heard) < len(said), (said, heard)
        assert errors == [], errors
    finally:
        page.close()
