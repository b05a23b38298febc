"""Read multipart uploads with a size cap, refusing oversized bodies before reading them."""

from dataclasses import dataclass, field

from fastapi import Request
from starlette.datastructures import UploadFile

from api.errors import ApiError
from schemas.errors import ErrorCode

MULTIPART_OVERHEAD = 64 * 1024


@dataclass
class Upload:
    data: bytes
    filename: str | None
    content_type: str | None
    form: dict[str, str] = field(default_factory=dict)


def refuse_oversized(request: Request, max_bytes: int) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + MULTIPART_OVERHEAD:
        raise ApiError(ErrorCode.payload_too_large, f"the upload exceeds {max_bytes} bytes")


async def read_upload(request: Request, *, field: str, max_bytes: int) -> Upload:
    refuse_oversized(request, max_bytes)
    form = await request.form(max_files=1, max_fields=20)
    item = form.get(field)
    if not isinstance(item, UploadFile):
        raise ApiError(
            ErrorCode.validation_error, f"multipart field {field!r} with an audio file is required"
        )
    data = await item.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(ErrorCode.payload_too_large, f"the upload exceeds {max_bytes} bytes")
    others = {key: value for key, value in form.items() if isinstance(value, str)}
    return Upload(data=data, filename=item.filename, content_type=item.content_type, form=others)


async def read_uploads(request: Request, *, field: str, max_bytes: int, max_files: int) -> list[Upload]:
    """Every file in ``field`` (a batch), each capped at ``max_bytes``."""
    form = await request.form(max_files=max_files, max_fields=50)
    others = {key: value for key, value in form.items() if isinstance(value, str)}
    uploads = []
    for item in form.getlist(field):
        if not isinstance(item, UploadFile):
            continue
        data = await item.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ApiError(ErrorCode.payload_too_large, f"{item.filename} exceeds {max_bytes} bytes")
        uploads.append(Upload(data=data, filename=item.filename, content_type=item.content_type, form=others))
    if not uploads:
        raise ApiError(
            ErrorCode.validation_error, f"multipart field {field!r} with at least one file is required"
        )
    return uploads
