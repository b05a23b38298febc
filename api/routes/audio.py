"""Stored audio blobs (uploads and synthesized speech), streamed with their content type."""

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.auth import CallerKey, owns
from api.deps import StorageDep
from api.errors import ApiError
from pipelines.browser_copies import browser_copy
from schemas.errors import ErrorCode

router = APIRouter(prefix="/v1/audio", tags=["audio"])
CHUNK = 256 * 1024


@router.get("/{audio_id}", response_class=StreamingResponse)
def get_audio(
    audio_id: str, key: CallerKey, storage: StorageDep, format: str | None = None
) -> StreamingResponse:
    """The audio as stored; ``?format=ogg`` gives the web-friendly copy of synthesized speech
    (encoded on the first request for it)."""
    info = storage.audio_info(audio_id)
    if info is None or not owns(key, info.metadata):
        raise ApiError(ErrorCode.not_found, f"audio {audio_id} not found")
    if format and format != info.metadata.get("format"):
        info = browser_copy(storage, info, format)
        if info is None:
            raise ApiError(ErrorCode.not_found, f"audio {audio_id} has no {format} copy")
    stream = storage.open_audio(info.id)

    def chunks() -> Iterator[bytes]:
        with stream:
            while block := stream.read(CHUNK):
                yield block

    return StreamingResponse(
        chunks(),
        media_type=info.content_type,
        headers={"Content-Length": str(info.length), "Cache-Control": "private, max-age=86400"},
    )
