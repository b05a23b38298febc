"""What every command gets from the top-level options: the API client and where to print."""

from dataclasses import dataclass

import typer
from rich.console import Console

from tools.vtuber.client import ApiClient


@dataclass(frozen=True)
class Cli:
    api: ApiClient
    console: Console  # results, on stdout
    status: Console  # progress and errors, on stderr, so `> file` keeps only results


def cli(ctx: typer.Context) -> Cli:
    found = ctx.find_object(Cli)
    assert found is not None, "the vtuber app's callback sets it up before any command"
    return found
