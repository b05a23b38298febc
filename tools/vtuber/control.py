"""`vtuber stt-device [auto|gpu|cpu]`: where new speech-to-text work goes (admin key)."""

from enum import StrEnum

import typer

from tools.vtuber.context import cli


class SttMode(StrEnum):
    auto = "auto"
    gpu = "gpu"
    cpu = "cpu"


def stt_device(
    ctx: typer.Context,
    mode: SttMode | None = typer.Argument(None, help="auto (the GPU pool while one is alive), gpu or cpu"),
) -> None:
    """Show the STT routing, or set it: auto, gpu or cpu."""
    out = cli(ctx)
    if mode is None:
        routing = out.api.get("/v1/control/stt")
    else:
        routing = out.api.json("PUT", "/v1/control/stt", json={"mode": mode.value})
    workers = ", ".join(routing["gpu_workers"]) or "none"
    out.console.print(
        f"mode {routing['mode']}: new STT work goes to the {routing['routes_to']} pool", markup=False
    )
    out.console.print(f"GPU STT workers alive: {workers}", markup=False)
