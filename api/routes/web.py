"""The browser player: one page at /player and its scripts under /static, served as plain files.

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
STATIC_FILES = {"player.js": JAVASCRIPT, "track.mjs": JAVASCRIPT, "turn_feed.mjs": JAVASCRIPT}
NO_CACHE = {"Cache-Control": "no-cache"}  # revalidate, so a redeployed page never runs stale scripts


@router.get("/player", response_class=FileResponse)
def player_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=NO_CACHE)


@router.get("/static/{name}", response_class=FileResponse)
def static_file(name: str) -> FileResponse:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise ApiError(ErrorCode.not_found, f"static file {name!r} not found")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=NO_CACHE)
