"""Real headless Chromium for page tests: Debian's ``chromium`` driven by Playwright for Python.

Playwright cannot download its own browser here, so it launches the system one by path
(tools/install-system.sh installs it). Audio may start without a click, as in an OBS browser
source. ``watch`` collects what a page reports as broken: console errors and uncaught exceptions.
"""

import base64
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",  # plays (the media clock runs), never sounds: CI machines and shared desks
]
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not found: tools/install-system.sh (Debian package chromium)"
)


@contextmanager
def launch_chromium(extra_args: Sequence[str] = ()) -> Iterator["Browser"]:
    """``extra_args``: more Chromium switches, e.g. a fake microphone (see fake_microphone_args)."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "chromium not found: run tools/install-system.sh"
    with sync_playwright() as playwright:
        args = [*CHROMIUM_ARGS, *extra_args]
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def fake_microphone_args(wav: Path) -> list[str]:
    """A microphone that plays ``wav`` (PCM WAV; looped) to any page that asks, without a prompt."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ]


@dataclass
class PageProblems:
    """Console errors and uncaught exceptions a page produced, as text."""

    errors: list[str] = field(default_factory=list)


def watch(page: "Page") -> PageProblems:
    problems = PageProblems()

    def on_console(message: "ConsoleMessage") -> None:
        if message.type == "error":
            problems.errors.append(f"console.error: {message.text} ({message.location})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.errors.append(f"uncaught: {error}"))
    return problems


def transparent_share(browser: "Browser", png: bytes) -> dict[str, Any]:
    """How much of a screenshot is see-through: the alpha of its corners and the share of pixels
    with alpha 0, read by the browser itself (no image library needed)."""
    page = browser.new_page()
    try:
        result: dict[str, Any] = page.evaluate(
            """async (b64) => {
                const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
                const image = await createImageBitmap(blob);
                const canvas = new OffscreenCanvas(image.width, image.height);
                const context = canvas.getContext("2d");
                context.drawImage(image, 0, 0);
                const pixels = context.getImageData(0, 0, image.width, image.height).data;
                const alpha = (x, y) => pixels[(y * image.width + x) * 4 + 3];
                let clear = 0;
                for (let i = 3; i < pixels.length; i += 4) if (pixels[i] === 0) clear += 1;
                const w = image.width - 1, h = image.height - 1;
                return {
                    corners: [alpha(0, 0), alpha(w, 0), alpha(0, h), alpha(w, h)],
                    clearShare: clear / (pixels.length / 4),
                };
            }""",
            base64.b64encode(png).decode(),
        )
        return result
    finally:
        page.close()
