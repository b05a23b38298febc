"""Talk to the avatar, transcribe files, read jobs, export data, manage keys, the STT device and
the platform chats a session reads, through the VTuber API. The API's URL and key come from
VTUBER_API_URL and VTUBER_API_KEY, or the --api-url and --api-key options."""

from typing import Any

import httpx
import typer
from rich.console import Console
from typer.core import TyperGroup

from tools.vtuber import control, export, jobs, keys, say, sources, transcribe
from tools.vtuber.client import DEFAULT_API_URL, ApiClient, ApiFailure, unreachable
from tools.vtuber.context import Cli


class ReportingGroup(TyperGroup):
    """Runs a command; a failed request ends it with the API's code and message on one line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ApiFailure as exc:
            fail(exc)
        except httpx.HTTPError as exc:  # anything the client did not already name
            fail(unreachable(str(ctx.params.get("api_url", "")), exc))


def fail(failure: ApiFailure) -> None:
    Console(stderr=True, soft_wrap=True).print(failure.line(), markup=False, highlight=False)
    raise typer.Exit(failure.exit_code)


app = typer.Typer(
    cls=ReportingGroup,
    help=__doc__,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def connect(
    ctx: typer.Context,
    api_url: str = typer.Option(DEFAULT_API_URL, envvar="VTUBER_API_URL", help="the API's base URL"),
    api_key: str | None = typer.Option(
        None, envvar="VTUBER_API_KEY", show_default=False, help="an API key (vtk_...)"
    ),
    timeout: float = typer.Option(30.0, min=1, help="seconds to wait for each answer"),
) -> None:
    client = ApiClient(api_url, api_key, timeout=timeout)
    ctx.call_on_close(client.close)
    ctx.obj = Cli(api=client, console=Console(soft_wrap=True), status=Console(stderr=True))


app.command("say")(say.say)
app.command("transcribe")(transcribe.transcribe)
app.command("jobs")(jobs.list_jobs)
app.command("job")(jobs.show_job)
app.command("stt-device")(control.stt_device)
app.add_typer(export.app, name="export")
app.add_typer(keys.app, name="keys")
app.add_typer(sources.app, name="sources")


def main() -> None:
    """The `vtuber` console script."""
    app()
