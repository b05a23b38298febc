"""`python -m tools.cli export chat|speech`: retraining data from the database of VTUBER_MONGO_URL,
written as it is read (the same exports the admin API streams at /v1/exports/...)."""

import sys
from collections import Counter
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from pipelines.chat_export import TurnFilter, chat_lines
from pipelines.speech_export import SOURCES, write_dataset
from pipelines.storage import Storage

export = typer.Typer(help=__doc__)
console = Console(stderr=True)  # counts on stderr: `export chat` may write the JSONL to stdout

PERSONA = typer.Option(None, help="only this persona's turns")
SINCE = typer.Option(None, help="turns at or after this time (ISO 8601; UTC if no zone is given)")
UNTIL = typer.Option(None, help="turns before this time (ISO 8601; UTC if no zone is given)")


def export_storage() -> Storage:
    from pipelines.settings import get_settings

    return Storage(get_settings())


def aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@export.command("chat")
def export_chat(
    out: Path = typer.Option(Path("-"), "--out", "-o", help="the JSONL file; - for stdout"),
    persona: str | None = PERSONA,
    since: datetime | None = SINCE,
    until: datetime | None = UNTIL,
    min_rating: int | None = typer.Option(None, min=-1, max=1, help="only turns rated this or better"),
    include_interrupted: bool = typer.Option(False, help="also turns the viewer cut off"),
) -> None:
    """OpenAI chat fine-tuning JSONL: system (the persona prompt that answered), user, assistant."""
    turns = TurnFilter(persona, aware(since), aware(until), min_rating, include_interrupted)
    stats: Counter[str] = Counter()
    storage = export_storage()
    target_file = nullcontext(sys.stdout) if str(out) == "-" else out.open("w", encoding="utf-8")
    with target_file as target:
        for line in chat_lines(storage, turns, stats):
            target.write(line)
    report(stats)


@export.command("speech")
def export_speech(
    out: Path = typer.Option(..., "--out", "-o", help="a directory: manifest.jsonl and audio/"),
    persona: str | None = PERSONA,
    since: datetime | None = SINCE,
    until: datetime | None = UNTIL,
    source: list[str] = typer.Option(list(SOURCES), help="utterances and/or batches"),
) -> None:
    """A speech dataset: manifest.jsonl (audio_filepath, text, language, duration) and the audio."""
    if unknown := set(source) - set(SOURCES):
        raise typer.BadParameter(f"unknown source {sorted(unknown)}; use {', '.join(SOURCES)}")
    turns = TurnFilter(persona, aware(since), aware(until))
    report(write_dataset(export_storage(), turns, out, tuple(source)))


def report(stats: Counter[str]) -> None:
    console.print(", ".join(f"{kind}: {count}" for kind, count in sorted(stats.items())) or "written: 0")
