"""Checks every browser page gets: a screenshot at desktop and phone size, saved as a test artifact
(``test-artifacts/screenshots``, or ``$VTUBER_TEST_ARTIFACTS``; gitignored), and nothing wider than
the window at either size (a page that scrolls sideways on a phone is broken)."""

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

VIEWPORTS: dict[str, "ViewportSize"] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
OVERFLOW = """() => ({
    scrollWidth: document.scrollingElement.scrollWidth,
    innerWidth: window.innerWidth,
    wider: [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .filter((e) => !e.closest(".scroll"))
        .map((e) => e.id || e.tagName.toLowerCase()).slice(0, 10),
})"""


def artifacts_dir() -> Path:
    directory = (
        Path(os.environ.get("VTUBER_TEST_ARTIFACTS") or PROJECT_ROOT / "test-artifacts") / "screenshots"
    )
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def save_screenshots(page: "Page", name: str) -> list[Path]:
    """Screenshot ``page`` at each size (as it stands: no reload) and check it never scrolls sideways."""
    saved = []
    for size, viewport in VIEWPORTS.items():
        page.set_viewport_size(viewport)
        page.wait_for_function("(w) => window.innerWidth === w", arg=viewport["width"])
        path = artifacts_dir() / f"{name}-{size}-{viewport['width']}x{viewport['height']}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
        overflow = page.evaluate(OVERFLOW)
        assert overflow["scrollWidth"] <= overflow["innerWidth"], (
            f"{name} scrolls sideways at {size}: {overflow}"
        )
    return saved
