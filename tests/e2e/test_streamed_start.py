"""A streamed first second (GPT-SoVITS ``streaming_mode``) in the talk page and the OBS overlay, in
real headless Chromium on the real stack.

The voice is GPT-SoVITS's faithful fake at real time (RTF 1.0): the first second of a segment is
announced (``segment.audio_started``) about 1.5 s before its whole, so each page plays the start at
once, pauses, then plays the whole from where the start ended, and only then the next segment. The
LLM is the OpenAI fake with a scripted reply, so the first segment is long enough to be streamed.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.browser import needs_chromium, watch
from tests.e2e.conftest import wait_for_job
from tests.fakes.gpt_sovits_fake import FakeGptSovits
from tests.fakes.openai_fake import FakeOpenAI, reply
from tools.stack import Stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.e2e, needs_chromium]

REPLY = "[happy] Hello there my dear friend from the chat. It is lovely to see you here today."
EMOTIONS = ("neutral", "happy", "sad", "angry", "surprised")
TURN_OVER = "() => document.getElementById('status').textContent === 'Your turn.'"

# Every Web Audio source the talk page starts: when, from where in its buffer, and its length.
PLAYER_SOURCES = """() => {
    window.__sources = [];
    const start = AudioBufferSourceNode.prototype.start;
    AudioBufferSourceNode.prototype.start = function (when, offset, ...rest) {
        window.__sources.push({ when, offset: offset || 0, duration: this.buffer.duration });
        return start.call(this, when, offset, ...rest);
    };
}"""
# Every audio element the overlay plays: from where, its length, and the segment it plays.
OVERLAY_PLAYS = """() => {
    window.__plays = [];
    const play = HTMLMediaElement.prototype.play;
    HTMLMediaElement.prototype.play = function () {
        const noted = { from: this.currentTime, segment: document.body.dataset.playing };
        window.__plays.push(noted);
        this.addEventListener("loadedmetadata", () => (noted.duration = this.duration), { once: true });
        if (this.readyState >= 1) noted.duration = this.duration;
        return play.call(this);
    };
}"""


@pytest.fixture
def streaming_voice(stack: Stack) -> Iterator[None]:
    """LLM and tts workers on the scripted LLM and the streaming voice, for one test."""
    refs = {f"/srv/gpt-sovits/refs/hana/{emotion}.wav": 5.0 for emotion in EMOTIONS}
    with (
        FakeOpenAI(api_key="sk-test", models=("gpt-4-turbo",), default=reply(REPLY)) as llm,
        FakeGptSovits(ref_clips=refs, rtf=1.0) as voice,
    ):
        llm_env = {
            "VTUBER_LLM_BACKEND": "openai",
            "VTUBER_OPENAI_BASE_URL": llm.base_url,
            "VTUBER_OPENAI_API_KEY": llm.api_key,
            "VTUBER_OPENAI_MODEL": "gpt-4-turbo",
        }
        voice_env = {
            "VTUBER_TTS_BACKEND": "gpt_sovits",
            "VTUBER_GPT_SOVITS_URL": voice.url,
            "VTUBER_GPT_SOVITS_STREAMING_MODE": "2",
        }
        stack.replace_workers("llm", suffix="-openai-scripted", extra_env=llm_env)
        stack.replace_workers("tts", suffix="-sovits-streaming", extra_env=voice_env)
        try:
            yield
        finally:
            stack.replace_workers("llm", suffix="-local")
            stack.replace_workers("tts", suffix="-piper")


def wait_in_page(page: "Page", condition: str, what: str, arg: Any = None) -> None:
    try:
        page.wait_for_function(condition, arg=arg, timeout=180_000, polling=50)
    except Exception as exc:
        state = page.evaluate("() => ({...document.body.dataset})")
        raise AssertionError(f"{what} (page state {state})") from exc


def test_both_pages_play_the_start_at_once_then_the_whole_from_where_it_ended(
    api: httpx.Client, session_id: str, stack: Stack, browser: "Browser", streaming_voice: None
) -> None:
    key = str(api.headers["Authorization"]).removeprefix("Bearer ")
    overlay = browser.new_page()
    overlay_errors = watch(overlay).errors
    overlay.goto(f"{stack.api_url}/overlay/{session_id}#key={key}")
    wait_in_page(overlay, "() => document.body.dataset.channel === 'open'", "the overlay's channel")
    overlay.evaluate(OVERLAY_PLAYS)
    player = browser.new_page()
    player_errors = watch(player).errors
    # The talk page joins the same session (it keeps the one it remembers).
    player.add_init_script(f"localStorage.setItem('vtuber-session', {session_id!r})")
    player.goto(f"{stack.api_url}/player#key={key}")
    player.wait_for_selector("#face #mouth", state="attached", timeout=30_000)
    player.evaluate(PLAYER_SOURCES)
    try:
        player.fill("#text", "Say hello to the chat!")
        player.click("#send")
        wait_in_page(player, TURN_OVER, "the reply to play through")
        job = wait_for_job(api, player.evaluate("() => document.body.dataset.job"))
        assert job["session_id"] == session_id and job["status"] == "completed", job
        assert job["segments_total"] == 2, job["segments"]
        whole = job["segments"][0]["duration_s"]

        start, rest, second = player.evaluate("() => window.__sources")
        assert 1.0 <= start["duration"] < whole - 0.5 and start["offset"] == 0, (start, whole)
        assert abs(rest["duration"] - whole) <= 0.01 and abs(rest["offset"] - start["duration"]) <= 1e-6, rest
        assert rest["when"] >= start["when"] + start["duration"] - 1e-6, "the rest after the start, not on it"
        assert second["offset"] == 0 and second["when"] >= rest["when"] + whole - rest["offset"] - 1e-6
        assert player.evaluate("() => document.body.dataset.played") == "2", "two segments played"
        assert player_errors == [], player_errors

        wait_in_page(
            overlay,
            "() => document.body.dataset.played === '2' && !document.body.dataset.playing",
            "the overlay did not play both segments through",
        )
        plays = overlay.evaluate("() => window.__plays")
        assert [p["segment"] for p in plays] == [f"{job['id']}:0"] * 2 + [f"{job['id']}:1"], plays
        assert plays[0]["from"] == 0 and plays[2]["from"] == 0, plays
        assert abs(plays[1]["from"] - plays[0]["duration"]) <= 0.05, "the whole goes on where the start ended"
        assert abs(plays[1]["duration"] - whole) <= 0.01, plays
        assert overlay_errors == [], overlay_errors
    finally:
        player.close()
        overlay.close()
