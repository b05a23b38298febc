"""`vtuber jobs` (a session's turns, or the most recent of all) and `vtuber job ID`."""

import json

import typer

from tools.vtuber.context import cli
from tools.vtuber.views import jobs_table, print_job


def list_jobs(
    ctx: typer.Context,
    session: str | None = typer.Option(None, "--session", "-s", help="this session's turns"),
    limit: int = typer.Option(20, min=1, max=200, help="how many, newest first"),
    as_json: bool = typer.Option(False, "--json", help="print the API's JSON"),
) -> None:
    """A session's turns, or without --session the most recent jobs of all (admin key)."""
    out = cli(ctx)
    path = f"/v1/sessions/{session}/jobs" if session else "/v1/jobs"
    found = out.api.get(path, params={"limit": limit})
    if as_json:
        typer.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    if not found:
        out.console.print("no jobs")
        return
    out.console.print(jobs_table(found))


def show_job(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., help="the job's id"),
    as_json: bool = typer.Option(False, "--json", help="print the API's JSON"),
) -> None:
    """One job: status, what was said, the reply, stage timings and segments."""
    out = cli(ctx)
    job = out.api.get(f"/v1/jobs/{job_id}")
    if as_json:
        typer.echo(json.dumps(job, indent=2, ensure_ascii=False))
        return
    print_job(out.console, job)
