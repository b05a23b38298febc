"""`vtuber sources list|add|remove`: a session's platform chats (/v1/sessions/{id}/sources)."""

from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from tools.vtuber.context import cli

app = typer.Typer(help="Platform chats (Twitch, YouTube) read into a session.", no_args_is_help=True)


@app.command("list")
def list_sources(ctx: typer.Context, session_id: str = typer.Argument(..., help="the session's id")) -> None:
    """Each chat with its state (waiting, connecting, connected, backoff, failed) and last error."""
    out = cli(ctx)
    table = Table("id", "platform", "chat", "state", "lines", "malformed", "last line (UTC)", "error")
    for source in out.api.get(f"/v1/sessions/{session_id}/sources")["sources"]:
        table.add_row(
            source["id"], source["platform"], Text(target(source)), source["state"], str(source["messages"]),
            str(source["malformed"]), moment(source.get("last_message_at")), Text(source.get("error") or ""),
        )  # fmt: skip
    out.console.print(table)


@app.command("add")
def add(
    ctx: typer.Context,
    session_id: str = typer.Argument(..., help="the session's id"),
    twitch: str | None = typer.Option(None, help="a Twitch channel's login name"),
    youtube: str | None = typer.Option(None, help="a YouTube broadcast's liveChatId"),
    credentials_ref: str | None = typer.Option(
        None, help="name of a secret the chat workers hold (VTUBER_CHAT_SECRET_<NAME>)"
    ),
) -> None:
    """Read a Twitch channel's or a YouTube live chat's lines into the session."""
    out = cli(ctx)
    if (twitch is None) == (youtube is None):
        raise typer.BadParameter("name one chat: --twitch CHANNEL or --youtube LIVE_CHAT_ID")
    body: dict[str, Any] = (
        {"platform": "twitch", "channel": twitch}
        if twitch is not None
        else {"platform": "youtube", "live_chat_id": youtube}
    )
    if credentials_ref:
        body["credentials_ref"] = credentials_ref
    source = out.api.json("POST", f"/v1/sessions/{session_id}/sources", json=body)
    out.console.print(
        f"source {source['id']} ({source['platform']} {target(source)}): {source['state']}", markup=False
    )


@app.command("remove")
def remove(
    ctx: typer.Context,
    session_id: str = typer.Argument(..., help="the session's id"),
    source_id: str = typer.Argument(..., help="the source's id (see `sources list`)"),
) -> None:
    """Stop reading the chat."""
    out = cli(ctx)
    out.api.request("DELETE", f"/v1/sessions/{session_id}/sources/{source_id}")
    out.console.print(f"source {source_id} removed", markup=False)


def target(source: dict[str, Any]) -> str:
    return str(source.get("channel") or source.get("live_chat_id") or "")


def moment(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else ""
