"""Ids in paths are checked by shape before any database lookup: a malformed id names nothing (404).

Jobs, sessions and batches have ``uuid4().hex`` ids, stored audio a GridFS ObjectId; a batch file is
addressed by its index. Installed once for the whole app, so every route (and every dependency that
reads the database, which runs after this one) gets only well-formed ids.
"""

import re

from fastapi import Request

from api.errors import ApiError
from schemas.errors import ErrorCode

HEX_ID = re.compile(r"[0-9a-f]{32}")
OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")
FILE_INDEX = re.compile(r"[0-9]{1,6}")
SHAPES = {
    "job_id": ("job", HEX_ID),
    "session_id": ("session", HEX_ID),
    "batch_id": ("batch", HEX_ID),
    "audio_id": ("audio", OBJECT_ID),
    "index": ("file", FILE_INDEX),
}


def check_path_ids(request: Request) -> None:
    for param, value in request.path_params.items():
        shape = SHAPES.get(param)
        if shape is not None and not (isinstance(value, str) and shape[1].fullmatch(value)):
            shown = str(value)[:64]
            raise ApiError(ErrorCode.not_found, f"{shape[0]} {shown!r} not found (not an id of this API)")
