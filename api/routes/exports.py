"""Retraining exports (admin scope), streamed as they are read: chat fine-tuning JSONL and a
speech dataset tar. The same exports write files from the CLI (`python -m tools.cli export`)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.auth import AdminKey
from api.deps import StorageDep
from api.errors import ApiError
from pipelines.chat_export import TurnFilter, chat_lines
from pipelines.speech_export import SOURCES, tar_stream
from schemas.errors import ErrorCode

router = APIRouter(prefix="/v1/exports", tags=["exports"])


async def turn_filter(
    persona: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[
        datetime | None, Query(description="Turns at or after this time (with a time zone).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Turns before this time (with a time zone).")] = None,
    min_rating: Annotated[
        int | None, Query(ge=-1, le=1, description="Only turns rated this or better.")
    ] = None,
    include_interrupted: Annotated[bool, Query(description="Also turns the viewer cut off.")] = False,
) -> TurnFilter:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ApiError(
                ErrorCode.validation_error, f"{name} needs a time zone (e.g. 2026-11-01T00:00:00Z)"
            )
    return TurnFilter(
        persona=persona,
        since=since,
        until=until,
        min_rating=min_rating,
        include_interrupted=include_interrupted,
    )


Turns = Annotated[TurnFilter, Depends(turn_filter)]


@router.get(
    "/chat.jsonl",
    response_class=StreamingResponse,
    responses={200: {"description": "One JSON object per line.", "content": {"application/jsonl": {}}}},
)
def export_chat(_: AdminKey, storage: StorageDep, turns: Turns) -> StreamingResponse:
    """OpenAI chat fine-tuning JSONL of the chosen turns: system (the persona prompt that
    answered), user, assistant. Failed turns never; turns whose prompt is unknown are left out."""
    return StreamingResponse(
        chat_lines(storage, turns),
        media_type="application/jsonl",
        headers={"Content-Disposition": 'attachment; filename="chat.jsonl"'},
    )


@router.get(
    "/speech.tar",
    response_class=StreamingResponse,
    responses={200: {"description": "audio/... and manifest.jsonl.", "content": {"application/x-tar": {}}}},
)
def export_speech(
    _: AdminKey,
    storage: StorageDep,
    turns: Turns,
    source: Annotated[list[str] | None, Query(description="utterances and/or batches (default both)")] = None,
) -> StreamingResponse:
    """A tar of audio/<clip> files and manifest.jsonl (audio_filepath, text, language, duration)."""
    sources = tuple(source or SOURCES)
    if unknown := set(sources) - set(SOURCES):
        raise ApiError(
            ErrorCode.validation_error, f"unknown source {sorted(unknown)}; use {', '.join(SOURCES)}"
        )
    return StreamingResponse(
        tar_stream(storage, turns, sources),
        media_type="application/x-tar",
        headers={"Content-Disposition": 'attachment; filename="speech.tar"'},
    )
