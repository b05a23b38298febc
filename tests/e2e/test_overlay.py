"""The OBS overlay in real headless Chromium on the real stack.

The page at /overlay/{session}#key=... follows only the session's channel. A turn started by
another client (the API, a text utterance) must play there: each segment's audio element plays to
its end, the mouth moves while it plays, the subtitles show each segment's text, a manual command
changes the face, the background stays see-through, and the console stays free of errors.
"""

import time
from typing import TYPE_CHECKING, Any

import httpx

from tests.browser import needs_chromium, transparent_share, watch
from tests.e2e.conftest import wait_for_job
from tools.stack import Stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = needs_chromium
QUESTION = "Tell me two short facts about the ocean, one sentence each."
LONG_STORY = "Tell me a long story about a brave little dragon, in at least six sentences."

# Installed in the page by the test: every animation frame, note what the overlay shows while a
# segment plays (the mouth opening the face drew, the subtitle, which segment) and at rest.
RECORDER = """() => {
    const seen = { mouths: [], subtitles: [], playing: [], restingMouths: [] };
    window.__overlaySeen = seen;
    const tick = () => {
        const playing = document.body.dataset.playing || "";
        const mouth = Number(document.getElementById("face").dataset.mouthOpen);
        if (playing) {
            seen.mouths.push(mouth);
            const text = document.getElementById("subtitle").textContent;
            if (!seen.subtitles.includes(text)) seen.subtitles.push(text);
            if (!seen.playing.includes(playing)) seen.playing.push(playing);
        } else {
            seen.restingMouths.push(mouth);
        }
        requestAnimationFrame(tick);
    };
    tick();
}"""


def wait_in_page(page: "Page", condition: str, what: str, timeout_s: float = 180, arg: Any = None) -> None:
    try:
        page.wait_for_function(condition, arg=arg, timeout=timeout_s * 1000, polling=50)
    except Exception as exc:
        state = page.evaluate("() => ({...document.body.dataset})")
        raise AssertionError(f"{what} (page state {state})") from exc


def open_overlay(browser: "Browser", stack: Stack, session_id: str, key: str) -> tuple["Page", list[str]]:
    page = browser.new_page(viewport={"width": 640, "height": 480})
    problems = watch(page)
    response = page.goto(f"{stack.api_url}/overlay/{session_id}#key={key}")
    assert response is not None and response.status == 200
    wait_in_page(page, "() => document.body.dataset.channel === 'open'", "the channel never opened", 30)
    page.evaluate(RECORDER)
    return page, problems.errors


def test_a_turn_from_another_client_plays_in_the_overlay(
    api: httpx.Client, session_id: str, stack: Stack, browser: "Browser"
) -> None:
    key = str(api.headers["Authorization"]).removeprefix("Bearer ")
    page, errors = open_overlay(browser, stack, session_id, key)
    try:
        background = page.evaluate(
            "() => [getComputedStyle(document.documentElement).backgroundColor,"
            " getComputedStyle(document.body).backgroundColor]"
        )
        assert background == ["rgba(0, 0, 0, 0)", "rgba(0, 0, 0, 0)"]

        response = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": QUESTION})
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        job = wait_for_job(api, job_id)
        assert job["status"] == "completed", job.get("error")
        segments = sorted(job["segments"], key=lambda s: s["index"])
        assert segments, "the reply had no segment to play"
        # Every segment's audio element ends (it played through) before the overlay goes quiet.
        wait_in_page(
            page,
            "(n) => Number(document.body.dataset.played) === n && !document.body.dataset.playing",
            f"the overlay did not play the {len(segments)} segment(s) through",
            arg=len(segments),
        )
        seen = page.evaluate("() => window.__overlaySeen")
        assert seen["playing"] == [f"{job_id}:{s['index']}" for s in segments], "segments in order, once each"
        for segment in segments:
            assert segment["text"] in seen["subtitles"], f"subtitle {segment['text']!r} never shown"
        mouths = seen["mouths"]
        assert len(set(mouths)) >= 3, f"the mouth did not move while the voice played: {sorted(set(mouths))}"
        assert max(mouths) >= 0.2 and min(mouths) < max(mouths) / 2
        assert set(seen["restingMouths"]) == {0}, "at rest the mouth is closed"

        shot = transparent_share(browser, page.screenshot(omit_background=True))
        assert shot["corners"] == [0, 0, 0, 0], "the page must be see-through around the avatar"
        assert 0.3 < shot["clearShare"] < 0.98, f"see-through share {shot['clearShare']}: no face drawn?"
        assert errors == [], errors
    finally:
        page.close()


def test_manual_commands_reach_the_overlay_at_once(
    api: httpx.Client, session_id: str, stack: Stack, browser: "Browser"
) -> None:
    key = str(api.headers["Authorization"]).removeprefix("Bearer ")
    page, errors = open_overlay(browser, stack, session_id, key)
    try:
        with httpx.Client(base_url=stack.api_url, timeout=30, headers=stack.api_headers) as admin:

            def send(command: dict[str, Any]) -> None:
                response = admin.post(f"/v1/sessions/{session_id}/avatar", json=command)
                assert response.status_code == 200, response.text

            send({"action": "expression", "expression": "surprised", "duration_s": 30})
            wait_in_page(page, "() => document.body.dataset.expression === 'surprised'", "no expression", 30)
            send({"action": "look_at", "x": 1.0, "y": 0.0, "z": 1.0})
            send({"action": "motion", "motion": "wave"})
            wait_in_page(page, "() => document.body.dataset.motion === 'wave'", "no motion cue", 30)
            eye = page.evaluate("() => Number(document.getElementById('eye-left').getAttribute('cx'))")
            assert eye > 70, "the eyes did not turn to the right"
            send({"action": "reset"})
            wait_in_page(page, "() => document.body.dataset.expression === ''", "reset did not clear it", 30)
            wait_in_page(
                page, "() => Number(document.getElementById('eye-left').getAttribute('cx')) === 70",
                "reset did not bring the eyes back", 30,
            )  # fmt: skip
        assert errors == [], errors
    finally:
        page.close()


def test_an_interrupt_stops_the_overlay_mid_turn(
    api: httpx.Client, session_id: str, stack: Stack, browser: "Browser"
) -> None:
    key = str(api.headers["Authorization"]).removeprefix("Bearer ")
    page, errors = open_overlay(browser, stack, session_id, key)
    try:
        response = api.post(f"/v1/sessions/{session_id}/utterances", json={"text": LONG_STORY})
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        wait_in_page(
            page, "(job) => document.body.dataset.playing === `${job}:0`", "the first segment never played",
            arg=job_id,
        )  # fmt: skip
        cancelled = api.post(f"/v1/jobs/{job_id}/cancel", json={})
        assert cancelled.status_code == 200, f"the turn ended before the cut could reach it: {cancelled.text}"
        assert cancelled.json()["status"] == "interrupted"
        wait_in_page(
            page, "() => !document.body.dataset.playing", "the voice went on after the interrupt", 30
        )
        played = page.evaluate("() => document.body.dataset.played")
        time.sleep(1.5)  # anything still queued would start within a frame or two
        seen = page.evaluate("() => window.__overlaySeen")
        assert seen["playing"] == [f"{job_id}:0"], "nothing after the cut may play"
        assert page.evaluate("() => document.body.dataset.played") == played == "0", "cut, not played out"
        assert page.evaluate("() => document.getElementById('subtitle').textContent") == ""
        assert errors == [], errors
    finally:
        page.close()


# A network that lets no WebSocket through (some proxies): every attempt fails before it opens.
NO_WEBSOCKETS = """
window.WebSocket = class {
    constructor() {
        setTimeout(() => this.onclose && this.onclose({ code: 1006, reason: "" }), 10);
    }
    close() {}
};
"""


def test_without_websockets_the_overlay_follows_the_session_over_sse(
    api: httpx.Client, session_id: str, stack: Stack, browser: "Browser"
) -> None:
    key = str(api.headers["Authorization"]).removeprefix("Bearer ")
    page = browser.new_page()
    errors = watch(page).errors
    try:
        page.add_init_script(NO_WEBSOCKETS)
        page.goto(f"{stack.api_url}/overlay/{session_id}#key={key}")
        wait_in_page(page, "() => document.body.dataset.channel === 'sse'", "no fallback to SSE", 30)
        page.evaluate(RECORDER)
        with httpx.Client(base_url=stack.api_url, timeout=30, headers=stack.api_headers) as admin:
            spoken = admin.post(f"/v1/sessions/{session_id}/speak", json={"text": "Thanks for the follow!"})
        assert spoken.status_code == 202, spoken.text
        job = wait_for_job(api, spoken.json()["job_id"])
        assert job["status"] == "completed", job.get("error")
        wait_in_page(
            page,
            "(n) => Number(document.body.dataset.played) === n && !document.body.dataset.playing",
            "the line did not play over SSE",
            arg=len(job["segments"]),
        )
        seen = page.evaluate("() => window.__overlaySeen")
        assert [s["text"] for s in job["segments"]] == [t for t in seen["subtitles"] if t]
        assert len(set(seen["mouths"])) >= 3, "the mouth did not move"
        assert errors == [], errors
    finally:
        page.close()
