"""`vtuber keys create|list|revoke`: API keys through the admin API (/v1/keys)."""

from enum import StrEnum

import typer
from rich.table import Table
from rich.text import Text

from tools.vtuber.context import cli

app = typer.Typer(help="API keys (admin key): create, list, revoke.", no_args_is_help=True)


class Scope(StrEnum):
    client = "client"
    admin = "admin"


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Option(..., help="who or what uses it, e.g. 'obs-overlay'"),
    scope: list[Scope] = typer.Option([Scope.client], help="client (default) and/or admin; repeat for both"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print only the key"),
) -> None:
    """Create a key; it is printed once and never stored (only its hash is)."""
    out = cli(ctx)
    created = out.api.json("POST", "/v1/keys", json={"name": name, "scopes": [s.value for s in scope]})
    if quiet:
        typer.echo(created["key"])
        return
    out.console.print(f"key {created['id']} ({', '.join(created['scopes'])}) for {name}:", markup=False)
    typer.echo(created["key"])
    out.status.print("Keep it now: it cannot be shown again.", style="yellow")


@app.command("list")
def list_all(ctx: typer.Context) -> None:
    """Every key with its scopes and state (never the secret)."""
    out = cli(ctx)
    table = Table("id", "name", "scopes", "development", "created (UTC)", "revoked (UTC)")
    for info in out.api.get("/v1/keys"):
        table.add_row(
            info["id"], Text(info["name"]), ", ".join(info["scopes"]), "yes" if info["development"] else "",
            moment(info["created_at"]), moment(info.get("revoked_at")),
        )  # fmt: skip
    out.console.print(table)


@app.command("revoke")
def revoke(
    ctx: typer.Context, key_id: str = typer.Argument(..., help="the key's id (see `keys list`)")
) -> None:
    """Revoke a key; the API refuses it from now on (other API processes within VTUBER_API_KEY_CACHE_S)."""
    out = cli(ctx)
    revoked = out.api.json("DELETE", f"/v1/keys/{key_id}")
    out.console.print(f"key {revoked['id']} ({revoked['name']}) revoked", markup=False)


def moment(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else ""
