"""Batch transcription: upload many files, poll progress, download json/txt/srt/vtt."""

import json

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from api.auth import CallerKey, owned_or_404
from api.callbacks import checked_callback
from api.content_disposition import attachment
from api.deps import State
from api.errors import ApiError
from api.uploads import read_uploads
from pipelines.audio_probe import inspect_upload
from pipelines.batches import create_batch
from pipelines.errors import StageError
from pipelines.transcript_formats import FORMATS
from pipelines.urls import url
from schemas.batches import (
    BatchAccepted,
    BatchFileOut,
    BatchOptions,
    BatchOut,
    BatchProgress,
    BatchStatus,
)
from schemas.errors import ErrorCode
from schemas.transcription import Transcript

router = APIRouter(prefix="/v1/transcriptions", tags=["transcriptions"])

BATCH_BODY = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "options": {"type": "string", "description": "JSON of BatchOptions"},
                    "callback_url": {"type": "string"},
                },
                "required": ["files"],
            }
        }
    }
}


def parse_options(raw: str | None, allowed_models: list[str]) -> BatchOptions:
    try:
        options = BatchOptions.model_validate(json.loads(raw) if raw else {})
    except (ValueError, ValidationError) as exc:
        raise ApiError(ErrorCode.validation_error, f"options are not valid: {exc}") from exc
    if options.model is not None and options.model not in allowed_models:
        raise ApiError(ErrorCode.validation_error, f"model must be one of {allowed_models}")
    unknown = [fmt for fmt in options.formats if fmt not in FORMATS]
    if unknown:
        raise ApiError(ErrorCode.validation_error, f"unknown formats {unknown}; use {sorted(FORMATS)}")
    return options


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BatchAccepted,
    openapi_extra={"requestBody": BATCH_BODY},
)
async def submit_batch(request: Request, key: CallerKey, state: State) -> BatchAccepted:
    """One or many audio files in field ``files``; ``options`` is a JSON object (BatchOptions)."""
    settings = state.settings
    await state.rate_limits.submit(key.id)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(ErrorCode.unsupported_media_type, "send multipart/form-data with one or more files")
    uploads = await read_uploads(
        request, field="files", max_bytes=settings.max_upload_bytes, max_files=settings.max_batch_files
    )
    options = parse_options(uploads[0].form.get("options"), settings.stt_allowed_models)
    callback_url = await checked_callback(uploads[0].form.get("callback_url"), settings)
    stored: list[tuple[str, str, float]] = []
    for number, upload in enumerate(uploads):
        name = upload.filename or f"file-{number}"
        try:
            info = await run_in_threadpool(
                inspect_upload,
                upload.data,
                upload.filename,
                upload.content_type,
                max_bytes=settings.max_upload_bytes,
                max_seconds=settings.max_batch_audio_seconds,
            )
        except StageError as exc:  # name the file that was refused
            raise ApiError(exc.code, f"{name}: {exc.message}", details={"file": name}) from exc
        audio_id = await run_in_threadpool(
            state.storage.put_audio,
            upload.data,
            filename=name,
            content_type=upload.content_type or "application/octet-stream",
            metadata={
                "owner": key.id,
                "format": info.format,
                "duration_s": info.duration_s,
                "purpose": "batch",
            },
        )
        stored.append((name, audio_id, info.duration_s))
    batch = await run_in_threadpool(
        create_batch,
        state.storage,
        options=options,
        files=stored,
        callback_url=callback_url,
        owner=key.id,
    )
    for index, (_, _, duration_s) in enumerate(stored):
        await run_in_threadpool(state.dispatcher.transcribe_file, batch["_id"], index, audio_s=duration_s)
    return BatchAccepted(
        batch_id=batch["_id"],
        status=BatchStatus.queued,
        status_url=url(settings, f"/v1/transcriptions/{batch['_id']}"),
        files_total=len(stored),
    )


@router.get("/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: str, key: CallerKey, state: State) -> BatchOut:
    batch = owned_or_404(key, state.storage.batches.find_one({"_id": batch_id}), f"batch {batch_id}")
    files = list(state.storage.batch_files.find({"batch_id": batch_id}).sort("index", 1))
    formats = batch["options"].get("formats") or list(FORMATS)
    return BatchOut(
        id=batch["_id"],
        status=batch["status"],
        options=BatchOptions.model_validate(batch["options"]),
        progress=BatchProgress(
            files_total=batch["files_total"],
            files_done=batch["files_done"],
            files_failed=batch["files_failed"],
        ),
        files=[
            BatchFileOut(
                index=f["index"],
                filename=f["filename"],
                status=f["status"],
                duration_s=f.get("duration_s"),
                transcript=f.get("transcript"),
                error=f.get("error"),
                seconds=f.get("seconds"),
                downloads={
                    fmt: url(
                        state.settings, f"/v1/transcriptions/{batch_id}/files/{f['index']}/transcript.{fmt}"
                    )
                    for fmt in formats
                }
                if f.get("transcript")
                else {},
            )
            for f in files
        ],
        created_at=batch["created_at"],
        updated_at=batch["updated_at"],
        completed_at=batch.get("completed_at"),
    )


@router.get("/{batch_id}/files/{index}/transcript.{fmt}")
def download_transcript(batch_id: str, index: int, fmt: str, key: CallerKey, state: State) -> Response:
    if fmt not in FORMATS:
        raise ApiError(ErrorCode.not_found, f"unknown format {fmt!r}; use {sorted(FORMATS)}")
    owned_or_404(key, state.storage.batches.find_one({"_id": batch_id}), f"batch {batch_id}")
    doc = state.storage.batch_files.find_one({"batch_id": batch_id, "index": index})
    if doc is None:
        raise ApiError(ErrorCode.not_found, f"file {index} of batch {batch_id} not found")
    if doc.get("transcript") is None:
        raise ApiError(ErrorCode.conflict, f"file {index} has no transcript yet (status {doc['status']})")
    media_type, render = FORMATS[fmt]
    stem = doc["filename"].rsplit(".", 1)[0] or f"file-{index}"
    return Response(
        render(Transcript.model_validate(doc["transcript"])),
        media_type=media_type,
        headers={"Content-Disposition": attachment(f"{stem}.{fmt}")},
    )
