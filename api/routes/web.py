"""The browser pages, served as plain files: the talk page at /player, the OBS overlay at
/overlay/{session_id} (the key follows in the URL fragment), the control panel at /control (an
admin key typed on the page), and their scripts under /static.

Only the files the page loads are served (no directory listing, no path from the request touches
the file system), with explicit types: browsers refuse an ES module sent as anything but JavaScript.
"""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.errors import ApiError
from schemas.errors import ErrorCode

router = APIRouter(tags=["web"], include_in_schema=False)
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
JAVASCRIPT = "text/javascript; charset=utf-8"
PAGE_SCRIPTS = (
    "player.js",
    "overlay.js",
    "face.mjs",
    "track.mjs",
    "turn_feed.mjs",
    "channel_queue.mjs",
    "avatar_commands.mjs",
    "session_channel.mjs",
    "control.js",
    "control_view.mjs",
)
STATIC_FILES = dict.fromkeys(PAGE_SCRIPTS, JAVASCRIPT)
HTML = "text/html; charset=utf-8"
NO_CACHE = {"Cache-Control": "no-cache"}  # revalidate, so a redeployed page never runs stale scripts


@router.get("/player", response_class=FileResponse)
def player_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type=HTML, headers=NO_CACHE)


@router.get("/control", response_class=FileResponse)
def control_page() -> FileResponse:
    """The page itself is public; every request it makes carries the admin key the operator typed."""
    return FileResponse(STATIC_DIR / "control.html", media_type=HTML, headers=NO_CACHE)


@router.get("/overlay/{session_id}", response_class=FileResponse)
def overlay_page(session_id: str) -> FileResponse:
    """The page is the same for every session: it reads the id from its address and the key from
    the fragment, then follows the session's channel (nothing here checks either)."""
    return FileResponse(STATIC_DIR / "overlay.html", media_type=HTML, headers=NO_CACHE)


@router.get("/static/{name}", response_class=FileResponse)
def static_file(name: str) -> FileResponse:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise ApiError(ErrorCode.not_found, f"static file {name!r} not found")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=NO_CACHE)
