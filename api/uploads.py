"""Read multipart uploads with a per-file size cap applied as the bytes arrive.

A declared ``Content-Length`` over the cap is refused before reading; otherwise the parser counts
each file's bytes as they stream in and stops at the first byte over the cap, so an oversized file
is never read (or spooled to disk) whole. The whole request is also capped by ``api.body_limit``.
"""

from contextlib import aclosing
from dataclasses import dataclass, field

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api.errors import ApiError
from schemas.errors import ErrorCode

MULTIPART_OVERHEAD = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024  # a text field (options, callback_url) is small


@dataclass
class Upload:
    data: bytes
    filename: str | None
    content_type: str | None
    form: dict[str, str] = field(default_factory=dict)


class CappedMultiPartParser(MultiPartParser):
    """Starlette's streaming parser, refusing a file part once it grows past ``max_file_bytes``."""

    def __init__(self, request: Request, *, max_file_bytes: int, max_files: int, max_fields: int) -> None:
        super().__init__(
            request.headers,
            request.stream(),
            max_files=max_files,
            max_fields=max_fields,
            max_part_size=MAX_FIELD_BYTES,
        )
        self.max_file_bytes = max_file_bytes
        self._file_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is not None:
            self._file_bytes += end - start
            if self._file_bytes > self.max_file_bytes:
                name = self._current_part.file.filename or "the upload"
                raise ApiError(ErrorCode.payload_too_large, f"{name} exceeds {self.max_file_bytes} bytes")
        super().on_part_data(data, start, end)


def refuse_oversized(request: Request, max_bytes: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + MULTIPART_OVERHEAD:
        raise ApiError(ErrorCode.payload_too_large, f"the upload exceeds {max_bytes} bytes")


async def parse_form(request: Request, *, max_file_bytes: int, max_files: int, max_fields: int) -> FormData:
    parser = CappedMultiPartParser(
        request, max_file_bytes=max_file_bytes, max_files=max_files, max_fields=max_fields
    )
    try:
        async with aclosing(parser.stream):
            return await parser.parse()
    except MultiPartException as exc:
        raise ApiError(ErrorCode.validation_error, f"the multipart body is not valid: {exc.message}") from exc


async def read_upload(request: Request, *, field: str, max_bytes: int) -> Upload:
    refuse_oversized(request, max_bytes)
    form = await parse_form(request, max_file_bytes=max_bytes, max_files=1, max_fields=20)
    try:
        item = form.get(field)
        if not isinstance(item, UploadFile):
            raise ApiError(
                ErrorCode.validation_error, f"multipart field {field!r} with an audio file is required"
            )
        data = await item.read()
    finally:
        await form.close()
    others = {key: value for key, value in form.items() if isinstance(value, str)}
    return Upload(data=data, filename=item.filename, content_type=item.content_type, form=others)


async def read_uploads(request: Request, *, field: str, max_bytes: int, max_files: int) -> list[Upload]:
    """Every file in ``field`` (a batch), each capped at ``max_bytes``."""
    form = await parse_form(request, max_file_bytes=max_bytes, max_files=max_files, max_fields=50)
    others = {key: value for key, value in form.items() if isinstance(value, str)}
    uploads = []
    try:
        for item in form.getlist(field):
            if isinstance(item, UploadFile):
                data = await item.read()
                uploads.append(
                    Upload(data=data, filename=item.filename, content_type=item.content_type, form=others)
                )
    finally:
        await form.close()
    if not uploads:
        raise ApiError(
            ErrorCode.validation_error, f"multipart field {field!r} with at least one file is required"
        )
    return uploads
