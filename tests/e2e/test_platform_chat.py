"""Platform chat end to end: a Twitch chat (the fake TMI server: the real one cannot be reached from
here) attached by API, read by a real chat worker, its chosen line answered by the real pipeline."""

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pymongo import MongoClient
from typer.testing import CliRunner, Result

from schemas.api_keys import Scope
from tests.browser import needs_chromium, watch
from tests.conftest import TEST_ENV
from tests.e2e.conftest import wait_for_stage
from tests.fakes.twitch_irc_fake import FakeTwitchIrc
from tools.stack import Stack
from tools.vtuber.app import app as vtuber_cli

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.e2e

CHANNEL = "#hana_live"


def wait_for(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.1)
    return found


def vtuber(api: httpx.Client, *args: str) -> Result:
    """The `vtuber` command line with the test's key."""
    env = {"VTUBER_API_URL": str(api.base_url), "COLUMNS": "250"}
    env["VTUBER_API_KEY"] = api.headers["Authorization"].removeprefix("Bearer ")
    result = CliRunner().invoke(vtuber_cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def twitch(stack: Stack) -> Iterator[FakeTwitchIrc]:
    """The fake Twitch chat, and the stack's chat worker pointed at it (with a bot token by name)."""
    with FakeTwitchIrc(tokens={"s3cret"}) as fake:
        stack.replace_workers(
            "chat",
            suffix="-fake-twitch",
            extra_env={
                "VTUBER_CHAT_TWITCH_HOST": "127.0.0.1",
                "VTUBER_CHAT_TWITCH_PORT": str(fake.port),
                "VTUBER_CHAT_TWITCH_TLS": "false",
                "VTUBER_CHAT_TWITCH_NICK": "hana_bot",
                "VTUBER_CHAT_SECRET_TWITCH_BOT": "oauth:s3cret",
                "VTUBER_CHAT_SELECT_INTERVAL_S": "0.2",
                "VTUBER_CHAT_MIN_REPLY_INTERVAL_S": "1",
            },
        )
        yield fake


def test_a_twitch_chat_attached_by_api_is_read_and_its_paid_line_answered(
    stack: Stack, api: httpx.Client, session_id: str, twitch: FakeTwitchIrc
) -> None:
    sources = f"/v1/sessions/{session_id}/sources"
    created = api.post(
        sources, json={"platform": "twitch", "channel": CHANNEL, "credentials_ref": "TWITCH_BOT"}
    )
    assert created.status_code == 201, created.text
    source = created.json()
    assert source["state"] == "waiting" and source["credentials_ref"] == "TWITCH_BOT"
    twitch.wait_for_joins(CHANNEL, 1, timeout=60)
    assert "PASS oauth:s3cret" in twitch.received  # the worker resolved the reference; the API never saw it
    wait_for(lambda: api.get(sources).json()["sources"][0]["state"] == "connected", "the connected state")

    twitch.say(CHANNEL, user_id="41", name="Mika", text="Hana, what is your favorite color?")
    twitch.say(CHANNEL, user_id="42", name="Rin", text="cheer200 you are the best, Hana!", bits=200)

    def first_turn() -> dict[str, Any] | None:
        turns = api.get(f"/v1/sessions/{session_id}/history").json()["turns"]
        return turns[-1] if turns else None

    turn = wait_for(first_turn, "a chat line to become a turn")
    assert (turn["viewer_id"], turn["viewer_name"]) == ("twitch:42", "Rin")  # the paid line first
    assert turn["user_text"] == "(cheered 200 bits) cheer200 you are the best, Hana!"
    # a turn like any typed one: the real pipeline takes it up (its reply is the pipeline's own tests' job)
    wait_for_stage(api, turn["job_id"], "llm", timeout=90)
    job = api.get(f"/v1/jobs/{turn['job_id']}").json()
    assert (job["kind"], job["session_id"]) == ("text", session_id) and job["status"] in (
        "running",
        "completed",
    )

    shown = vtuber(api, "sources", "list", session_id).output
    assert source["id"] in shown and "connected" in shown and "hana_live" in shown
    every = httpx.get(f"{stack.api_url}/v1/control/chat-sources", headers=stack.api_headers).json()["sources"]
    assert [s["state"] for s in every if s["id"] == source["id"]] == ["connected"]
    assert api.get("/v1/control/chat-sources").json()["error"]["code"] == "forbidden"  # admin only
    listed = api.get(sources).json()["sources"]
    assert [s["id"] for s in listed] == [source["id"]] and listed[0]["messages"] == 2
    # everything seen is kept with its fate, for analytics
    database: Any = MongoClient(stack.mongo_url)[TEST_ENV["VTUBER_MONGO_DB"]]
    fates = {
        doc["viewer_name"]: doc["fate"] for doc in database["chat_messages"].find({"session_id": session_id})
    }
    assert fates["Rin"] == "answered" and fates["Mika"] in ("skipped", "answered")

    # refusals: a malformed source, the same chat twice, another key's session, an unknown source
    assert api.post(sources, json={"platform": "twitch"}).json()["error"]["code"] == "validation_error"
    again = api.post(sources, json={"platform": "twitch", "channel": "HANA_LIVE"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    other = {"Authorization": f"Bearer {stack.create_key('another client', [Scope.client])}"}
    assert httpx.get(f"{stack.api_url}{sources}", headers=other).status_code == 404
    assert api.delete(f"{sources}/{'0' * 32}").status_code == 404

    assert (
        f"source {source['id']} removed" in vtuber(api, "sources", "remove", session_id, source["id"]).output
    )
    wait_for(lambda: not twitch.joined(CHANNEL), "the worker to leave the detached chat")
    assert api.get(sources).json()["sources"] == []


@needs_chromium
def test_the_control_panel_shows_each_chat_and_its_state(
    stack: Stack, api: httpx.Client, session_id: str, twitch: FakeTwitchIrc, browser: "Browser"
) -> None:
    sources = f"/v1/sessions/{session_id}/sources"
    source = api.post(sources, json={"platform": "twitch", "channel": "other_channel"}).json()
    twitch.wait_for_joins("#other_channel", 1, timeout=60)
    page = browser.new_page()
    errors = watch(page).errors
    try:
        page.goto(f"{stack.api_url}/control")
        page.fill("#key", stack.create_key("chat panel", [Scope.client, Scope.admin]))
        page.click("#login-form button")
        shown = f'#chat-sources tr[data-source="{source["id"]}"]'
        page.wait_for_function(
            f"() => (document.querySelector('{shown}')?.innerText || '').includes('connected')",
            timeout=30_000,
        )
        assert "other_channel" in page.inner_text(shown) and session_id[:8] in page.inner_text(shown)
        assert errors == [], errors
    finally:
        page.close()
        api.delete(f"{sources}/{source['id']}")
