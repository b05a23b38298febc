"""`vtuber transcribe`: many files as one batch (/v1/transcriptions), a progress bar over it while
it runs, then each transcript in the chosen format written beside the others."""

import json
import mimetypes
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from tools.vtuber.client import EXIT_REFUSED, EXIT_UNAVAILABLE, ApiClient, ApiFailure
from tools.vtuber.context import cli

POLL_S = 0.5


class Format(StrEnum):
    srt = "srt"
    vtt = "vtt"
    txt = "txt"
    json = "json"


def transcribe(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="audio files"),
    fmt: Format = typer.Option(Format.srt, "--format", "-f", help="the transcripts' format"),
    out_dir: Path = typer.Option(Path("."), "--out", "-o", file_okay=False, help="where transcripts go"),
    language: str | None = typer.Option(None, help="ISO code (e.g. en); detected when omitted"),
    model: str | None = typer.Option(None, help="one of the API's allowed STT models"),
    max_wait: float = typer.Option(3600.0, min=1, help="seconds to wait for the batch to finish"),
) -> None:
    """Transcribe files as one batch and write <out>/<file name>.<format> for each."""
    out = cli(ctx)
    options: dict[str, Any] = {"formats": [fmt.value]}
    options.update({k: v for k, v in (("language", language), ("model", model)) if v is not None})
    uploads = [
        (
            "files",
            (path.name, path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream"),
        )
        for path in files
    ]
    accepted = out.api.json(
        "POST", "/v1/transcriptions", files=uploads, data={"options": json.dumps(options)}
    )
    batch_id = str(accepted["batch_id"])
    out.status.print(f"batch {batch_id}: {accepted['files_total']} files", highlight=False)
    batch = wait_for_batch(out.api, batch_id, accepted["files_total"], out.status, max_wait=max_wait)
    written = write_transcripts(out.api, batch, fmt.value, out_dir)
    table = Table("#", "file", "status", "audio seconds", "transcript", title=f"batch {batch_id}")
    for entry in batch["files"]:
        duration = entry.get("duration_s")
        error = entry.get("error") or {}
        table.add_row(
            str(entry["index"]), Text(entry["filename"]), entry["status"],
            f"{duration:.1f}" if duration is not None else "",
            Text(written.get(entry["index"]) or f"{error.get('code', '')}: {error.get('message', '')}"),
        )  # fmt: skip
    out.console.print(table)
    if batch["progress"]["files_failed"]:
        raise typer.Exit(EXIT_REFUSED)


def wait_for_batch(api: ApiClient, batch_id: str, total: int, status: Any, *, max_wait: float) -> Any:
    """Poll the batch until every file is done or failed, with a bar over its files."""
    deadline = time.monotonic() + max_wait
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=status, transient=True) as progress:
        task = progress.add_task("queued", total=total)
        while True:
            batch = api.get(f"/v1/transcriptions/{batch_id}")
            done = batch["progress"]["files_done"] + batch["progress"]["files_failed"]
            progress.update(task, completed=done, description=batch["status"])
            if batch["status"] in ("completed", "failed"):
                return batch
            if time.monotonic() > deadline:
                raise ApiFailure(
                    "timeout",
                    f"batch {batch_id} did not finish within {max_wait:.0f} s ({done} of {total} files)",
                    exit_code=EXIT_UNAVAILABLE,
                )
            time.sleep(POLL_S)


def write_transcripts(api: ApiClient, batch: dict[str, Any], fmt: str, out_dir: Path) -> dict[int, str]:
    """Each finished file's transcript as ``<stem>.<fmt>`` (``<stem>-<index>.<fmt>`` when two files
    share a name); returns where each went."""
    stems = [Path(entry["filename"]).stem or f"file-{entry['index']}" for entry in batch["files"]]
    written: dict[int, str] = {}
    for entry, stem in zip(batch["files"], stems, strict=True):
        url = (entry.get("downloads") or {}).get(fmt)
        if not url:
            continue
        name = f"{stem}-{entry['index']}" if stems.count(stem) > 1 else stem
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{name}.{fmt}"
        target.write_bytes(api.download(url))
        written[entry["index"]] = str(target)
    return written
