"""The control panel: where new speech-to-text work goes (GPU pool, CPU pool, or auto)."""

from fastapi import APIRouter
from pydantic import BaseModel

from api.auth import AdminGuard
from api.deps import State
from pipelines.stt_routing import SttMode

router = APIRouter(prefix="/v1/control", tags=["control"], dependencies=[AdminGuard])


class SttControl(BaseModel):
    mode: SttMode


class SttControlOut(BaseModel):
    mode: SttMode
    gpu_workers: list[str]
    routes_to: str


def describe(state: State) -> SttControlOut:
    return SttControlOut(
        mode=state.router.mode(),
        gpu_workers=state.router.gpu_workers(),
        routes_to="gpu" if state.router.use_gpu() else "cpu",
    )


@router.get("/stt", response_model=SttControlOut)
def get_stt(state: State) -> SttControlOut:
    return describe(state)


@router.put("/stt", response_model=SttControlOut)
def put_stt(body: SttControl, state: State) -> SttControlOut:
    state.router.set_mode(body.mode)
    return describe(state)
