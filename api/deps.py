"""Dependency aliases so route signatures read like prose."""

from typing import Annotated

from fastapi import Depends, Request

from api.state import ApiState
from pipelines.settings import Settings
from pipelines.storage import Storage


def get_state(request: Request) -> ApiState:
    return request.app.state.api


def get_storage(request: Request) -> Storage:
    return get_state(request).storage


def get_app_settings(request: Request) -> Settings:
    return get_state(request).settings


State = Annotated[ApiState, Depends(get_state)]
StorageDep = Annotated[Storage, Depends(get_storage)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
