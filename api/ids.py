"""Ids in paths are checked by shape before any database lookup: a malformed id names nothing (404).

Jobs, sessions and batches have ``uuid4().hex`` ids, stored audio a GridFS ObjectId; a batch file is
addressed by its index. Installed once for the whole app, so every route (and every dependency that
reads the database, which runs after this one) gets only well-formed ids; the OpenAPI schema shows
each shape as a ``pattern``.
"""

import re
from typing import Any

from fastapi import FastAPI
from starlette.requests import HTTPConnection

from api.errors import ApiError
from schemas.errors import ErrorCode

HEX_ID = re.compile(r"[0-9a-f]{32}")
OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")
KEY_ID = re.compile(r"[0-9a-f]{16}")  # an API key's id (pipelines/api_keys.py)
FILE_INDEX = re.compile(r"[0-9]{1,6}")
MAX_FILE_INDEX = 999_999
SHAPES = {
    "job_id": ("job", HEX_ID),
    "session_id": ("session", HEX_ID),
    "batch_id": ("batch", HEX_ID),
    "source_id": ("source", HEX_ID),
    "audio_id": ("audio", OBJECT_ID),
    "index": ("file", FILE_INDEX),
    "key_id": ("key", KEY_ID),
}


async def check_path_ids(request: HTTPConnection) -> None:
    """Async although it never awaits: a plain ``def`` dependency would cost every request a hop
    through the thread pool (api/deps.py)."""
    if request.scope["type"] == "websocket":  # a socket judges its ids after accepting: close codes
        return
    for param, value in request.path_params.items():
        shape = SHAPES.get(param)
        if shape is not None and not (isinstance(value, str) and shape[1].fullmatch(value)):
            shown = str(value)[:64]
            raise ApiError(ErrorCode.not_found, f"{shape[0]} {shown!r} not found (not an id of this API)")


def document_id_shapes(app: FastAPI) -> None:
    """Publish each id's shape as a ``pattern`` in the OpenAPI schema, so clients and generated
    tests know a well-formed id without reading this module."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for parameter in operation.get("parameters", []):
                        shape = SHAPES.get(parameter["name"]) if parameter.get("in") == "path" else None
                        if shape is None:
                            continue
                        if parameter["schema"].get("type") == "integer":  # the file index
                            parameter["schema"].update(minimum=0, maximum=MAX_FILE_INDEX)
                        else:
                            parameter["schema"]["pattern"] = f"^{shape[1].pattern}$"
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
