"""`vtuber export chat|speech`: the admin exports (/v1/exports/...), streamed to a file as the API
reads them; the file appears complete or not at all."""

import sys
from pathlib import Path
from typing import Any

import typer
from rich.progress import DownloadColumn, Progress, SpinnerColumn, TextColumn, TransferSpeedColumn

from tools.vtuber.context import Cli, cli

app = typer.Typer(help="Retraining data from the admin export API (admin key).", no_args_is_help=True)

PERSONA = typer.Option(None, help="only this persona's turns")
SINCE = typer.Option(
    None, help="turns at or after this time (ISO 8601 with a zone, e.g. 2026-11-01T00:00:00Z)"
)
UNTIL = typer.Option(None, help="turns before this time (ISO 8601 with a zone)")
INTERRUPTED = typer.Option(False, "--include-interrupted", help="also turns the viewer cut off")


@app.command("chat")
def export_chat(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", "-o", dir_okay=False, help="the JSONL file; - for stdout"),
    persona: str | None = PERSONA,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    min_rating: int | None = typer.Option(None, min=-1, max=1, help="only turns rated this or better"),
    include_interrupted: bool = INTERRUPTED,
) -> None:
    """OpenAI chat fine-tuning JSONL: system (the persona prompt that answered), user, assistant."""
    params = filters(persona, since, until, include_interrupted) | (
        {"min_rating": min_rating} if min_rating is not None else {}
    )
    stream_to(cli(ctx), "/v1/exports/chat.jsonl", params, out)


@app.command("speech")
def export_speech(
    ctx: typer.Context,
    out: Path = typer.Option(
        ..., "--out", "-o", dir_okay=False, help="the tar file (manifest.jsonl, audio/)"
    ),
    persona: str | None = PERSONA,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    source: list[str] | None = typer.Option(None, help="utterances and/or batches (default both)"),
    include_interrupted: bool = INTERRUPTED,
) -> None:
    """A speech dataset as a tar: audio/<clip> and manifest.jsonl (audio_filepath, text, ...)."""
    params = filters(persona, since, until, include_interrupted) | ({"source": source} if source else {})
    stream_to(cli(ctx), "/v1/exports/speech.tar", params, out)


def filters(persona: str | None, since: str | None, until: str | None, interrupted: bool) -> dict[str, Any]:
    chosen = {"persona": persona, "since": since, "until": until}
    return {name: value for name, value in chosen.items() if value is not None} | (
        {"include_interrupted": "true"} if interrupted else {}
    )


def stream_to(out: Cli, path: str, params: dict[str, Any], target: Path) -> None:
    """Write the body as it arrives to ``target`` (through a .part file renamed at the end)."""
    columns = (SpinnerColumn(), TextColumn(path), DownloadColumn(), TransferSpeedColumn())
    to_stdout = str(target) == "-"
    partial = target.with_name(target.name + ".part")
    written = 0
    with (
        out.api.stream(path, params=params) as response,
        Progress(*columns, console=out.status, transient=True) as bar,
    ):
        task = bar.add_task(path, total=None)
        if to_stdout:
            for chunk in response.iter_bytes():
                sys.stdout.buffer.write(chunk)
                written += len(chunk)
                bar.update(task, completed=written)
            sys.stdout.buffer.flush()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with partial.open("wb") as file:
                    for chunk in response.iter_bytes():
                        file.write(chunk)
                        written += len(chunk)
                        bar.update(task, completed=written)
            except BaseException:  # a broken stream or Ctrl-C: no half file left behind
                partial.unlink(missing_ok=True)
                raise
            partial.replace(target)
    out.status.print(f"{written} bytes" + ("" if to_stdout else f" written to {target}"), highlight=False)
