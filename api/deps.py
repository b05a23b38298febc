"""Dependency aliases so route signatures read like prose.

They are ``async def`` although they never await: FastAPI runs a plain ``def`` dependency in its
thread pool, and that hand-off cost every request more than the lookup itself (a sixth of the API's
CPU at 750 polls/s).
"""

from typing import Annotated

from fastapi import Depends, Request

from api.state import ApiState
from pipelines.settings import Settings
from pipelines.storage import Storage


def app_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


async def get_state(request: Request) -> ApiState:
    return app_state(request)


async def get_storage(request: Request) -> Storage:
    return app_state(request).storage


async def get_app_settings(request: Request) -> Settings:
    return app_state(request).settings


State = Annotated[ApiState, Depends(get_state)]
StorageDep = Annotated[Storage, Depends(get_storage)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
