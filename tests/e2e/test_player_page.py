"""The web player at /player in real headless Chromium: it mounts the shared face (face.mjs), sends
a typed line, plays the reply through with a moving mouth, and logs no error on the way."""

from typing import TYPE_CHECKING

import httpx

from tests.browser import needs_chromium, watch
from tools.stack import Stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = needs_chromium

MOUTH_RECORDER = """() => {
    window.__mouths = new Set();
    const tick = () => {
        window.__mouths.add(document.getElementById("face").dataset.mouthOpen);
        requestAnimationFrame(tick);
    };
    tick();
}"""


def test_the_player_speaks_a_reply_with_the_shared_face(
    api: httpx.Client, stack: Stack, browser: "Browser"
) -> None:
    key = str(api.headers["Authorization"]).removeprefix("Bearer ")
    page = browser.new_page()
    errors = watch(page).errors
    try:
        page.goto(f"{stack.api_url}/player#key={key}")
        page.wait_for_selector("#face #mouth", state="attached", timeout=30_000)
        page.evaluate(MOUTH_RECORDER)
        page.fill("#text", "Hello! How are you today?")
        page.click("#send")
        finished = "() => document.getElementById('status').textContent === 'Your turn.'"
        page.wait_for_function(finished, timeout=180_000, polling=100)
        reply = page.text_content("#log .reply")
        assert reply and reply != "…", "no reply text shown"
        mouths = page.evaluate("() => [...window.__mouths].map(Number)")
        assert len(mouths) >= 3 and max(mouths) >= 0.2, f"the mouth did not move: {sorted(mouths)}"
        assert errors == [], errors
    finally:
        page.close()
