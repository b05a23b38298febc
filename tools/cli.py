"""`make demo` and `make run`: the embedded default stack on this machine, no Docker, no keys."""

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from pipelines.api_keys import create_key, list_keys, revoke_key
from pipelines.settings import PROJECT_ROOT
from pipelines.storage import Storage
from schemas.api_keys import Scope
from tools.export_cli import export
from tools.spoken import spoken_wav
from tools.stack import Stack
from tools.supervisor import Supervisor

cli = typer.Typer(add_completion=False, help=__doc__)
console = Console()
DEMO_SENTENCE = "Hi Hana! I just got here. What are we playing today?"


def prepare_models() -> None:
    """Join and verify the split bundled weights once (the first run copies about 600 MB)."""
    from pipelines.settings import get_settings
    from workers import assets

    settings = get_settings()
    with console.status("checking bundled model weights (first run joins and verifies them)"):
        assets.whisper_model_dir(settings.stt_model)
        assets.llm_model_file(settings.llm_local_model)
        assets.piper_voice_file(settings.piper_voice)


def speak(text: str, target: Path) -> bytes:
    """A real spoken utterance for the demo, kept beside the run's logs."""
    data = spoken_wav(text)
    target.write_bytes(data)
    return data


def start_stack(stack: Stack) -> None:
    parts = f"Redis, the MongoDB-protocol server, {len(stack.pools)} Celery worker pools and the API"
    with console.status(f"starting {parts}"):
        stack.start()
        stack.wait_for_workers()


def shown(path: Path) -> Path:
    return path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path


class Stopped(BaseException):
    """SIGTERM or SIGHUP reached the launcher: unwind like Ctrl-C does."""


def _stop_on_signal(signum: int, frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


@contextmanager
def stopping_on_signals(stack: Stack, supervisor: Supervisor | None = None) -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP stop every child; further signals do not cut that short."""
    previous = {sig: signal.signal(sig, _stop_on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    # Also when started with SIGINT ignored (a background job of a script): Ctrl-C means stop.
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    except (KeyboardInterrupt, Stopped) as exc:
        console.print(f"[yellow]{str(exc) or 'Ctrl-C'}: stopping[/yellow]")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if supervisor is not None:
            supervisor.stop()
        with console.status("stopping everything this command started"):
            stack.stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def poll(client: httpx.Client, job_id: str, label: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with console.status(label) as status:
        while time.monotonic() < deadline:
            job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in ("completed", "failed"):
                return job
            ready = sum(1 for s in job["segments"] if s["ready"])
            status.update(f"{label}: {job['status']} / {job['stage'] or '-'} ({ready} segments ready)")
            time.sleep(0.2)
    console.print(f"[red]{label}: no answer within {timeout:.0f} s; see the logs in the run directory[/red]")
    raise typer.Exit(code=1)


def viseme_changes(track: dict[str, Any]) -> int:
    """How many times the dominant Oculus viseme changes: the lip-sync events of the segment."""
    curves = track.get("visemes") or {}
    if not curves:
        return 0
    times = np.unique([key["t"] for curve in curves.values() for key in curve])
    weights = np.stack(
        [np.interp(times, [k["t"] for k in curve], [k["w"] for k in curve]) for curve in curves.values()]
    )
    dominant = weights.argmax(axis=0)
    return int(np.count_nonzero(dominant[1:] != dominant[:-1]))


def show_turn(client: httpx.Client, job: dict[str, Any], run_dir: Path, wall_s: float) -> None:
    console.print(f"[bold]transcript[/bold]: {job['transcript']['text'].strip()}")
    console.print(f"[bold]reply[/bold]:      {job['reply']['text']}")
    console.print(f"[bold]emotion[/bold]:    {job['reply']['emotion']}  motions: {job['reply']['motions']}")
    segments = Table(
        "segment", "text", f"audio file (in {run_dir.relative_to(PROJECT_ROOT)})", "seconds",
        "viseme changes", "emotion", title="reply segments",
    )  # fmt: skip
    for segment in job["segments"]:
        target = run_dir / f"segment-{segment['index']}.wav"
        target.write_bytes(client.get(segment["audio_url"]).content)
        track = segment["animation"] or {}
        segments.add_row(
            str(segment["index"]), segment["text"], target.name,
            f"{segment['duration_s']:.2f}", str(viseme_changes(track)), segment["emotion"],
        )  # fmt: skip
    console.print(segments)
    timings = Table("stage", "work (s)", "started after submit (s)", "finished after submit (s)")
    submitted = datetime.fromisoformat(job["created_at"])
    for stage in ("stt", "llm", "tts", "animation"):
        timing = job["timings"].get(stage)
        if timing:
            start = datetime.fromisoformat(timing["started_at"]) - submitted
            end = datetime.fromisoformat(timing["finished_at"]) - submitted
            timings.add_row(
                stage,
                f"{timing['seconds']:.2f}",
                f"{start.total_seconds():.2f}",
                f"{end.total_seconds():.2f}",
            )
    console.print(timings)
    console.print(f"[bold]turn latency[/bold] (submit → last segment animated, as polled): {wall_s:.2f} s")


@cli.command()
def demo() -> None:
    """Send one spoken utterance through the whole pipeline and print what came back."""
    run_dir = PROJECT_ROOT / ".run" / f"demo-{datetime.now():%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True)
    prepare_models()
    stack = Stack(run_dir=run_dir)
    supervisor = Supervisor(
        stack, echo=lambda message: console.print(f"[yellow]supervisor[/yellow] {message}")
    )
    with stopping_on_signals(stack, supervisor):
        start_stack(stack)
        supervisor.start_background()  # this thread lives until the demo has stopped the stack
        demo_turn(stack, run_dir)
    console.print(f"logs and audio: {shown(run_dir)}")


def demo_turn(stack: Stack, run_dir: Path) -> None:
    with httpx.Client(base_url=stack.api_url, timeout=60, headers=stack.api_headers) as client:
        session = client.post("/v1/sessions", json={}).json()
        console.print(f"session {session['id']} with persona [bold]{session['persona']}[/bold]")
        warm = client.post(f"/v1/sessions/{session['id']}/utterances", json={"text": "Hello!"}).json()
        poll(client, warm["job_id"], "loading the models in each worker (a warm-up text turn)")
        audio = speak(DEMO_SENTENCE, run_dir / "utterance.wav")
        console.print(
            f"viewer says (Piper voice, {run_dir.name}/utterance.wav): [italic]{DEMO_SENTENCE}[/italic]"
        )
        started = time.perf_counter()
        accepted = client.post(
            f"/v1/sessions/{session['id']}/utterances",
            files={"audio": ("utterance.wav", audio, "audio/wav")},
        ).json()
        job = poll(client, accepted["job_id"], "thinking")
        wall = time.perf_counter() - started
        if job["status"] != "completed":
            console.print(f"[red]job failed[/red]: {job['error']}")
            raise typer.Exit(code=1)
        show_turn(client, job, run_dir, wall)


@cli.command()
def run(
    port: int = typer.Option(8000, help="API port"),
    flower_port: int = typer.Option(5555, help="Flower port"),
    run_dir: Path = typer.Option(PROJECT_ROOT / ".run" / "stack", help="logs, Redis and MongoDB data"),
) -> None:
    """Start the embedded stack, restart any part that crashes, and stop it all on Ctrl-C or SIGTERM."""
    stack = Stack(run_dir=run_dir.resolve(), api_port=port)
    supervisor = Supervisor(
        stack, echo=lambda message: console.print(f"[yellow]supervisor[/yellow] {message}")
    )
    with stopping_on_signals(stack):
        prepare_models()
        start_stack(stack)
        flower = stack.start_flower(flower_port)
        console.print(
            f"API        {stack.api_url}  (docs: {stack.api_url}/docs, metrics: {stack.api_url}/metrics)"
        )
        console.print(f"player     {stack.api_url}/player#key={stack.api_key}")
        console.print(f"control    {stack.api_url}/control  (type the API key below: it is an admin key)")
        console.print(
            f"API key    {stack.api_key}  (development key, client and admin; "
            "send it as Authorization: Bearer <key>)"
        )
        console.print(f"Flower     {flower}  (queues, workers, tasks)")
        console.print(f"Redis      {stack.redis_url}")
        console.print(f"MongoDB    {stack.mongo_url}")
        console.print(f"logs       {shown(stack.run_dir)}/  (restarts: supervisor.log)")
        console.print(
            f"metrics    workers: {shown(stack.write_metrics_targets())}  (Prometheus file_sd targets)"
        )
        console.print("Crashed parts are restarted; Ctrl-C stops everything.")
        supervisor.run_forever()  # from the main thread, which started every child


cli.add_typer(export, name="export")

keys = typer.Typer(help="API keys in the database of VTUBER_MONGO_URL: create, list, revoke.")
cli.add_typer(keys, name="keys")


def key_storage() -> Storage:
    from pipelines.settings import get_settings

    return Storage(get_settings())


@keys.command("create")
def create_api_key(
    name: str = typer.Option(..., help="who or what uses it, e.g. 'obs-overlay'"),
    scope: list[Scope] = typer.Option([Scope.client], help="client (default) and/or admin"),
) -> None:
    """Create a key; its secret is printed once and never stored (only its hash is)."""
    key, secret = create_key(key_storage(), name=name, scopes=scope)
    console.print(f"key {key.id} ({', '.join(sorted(key.scopes))}) for {name}:")
    console.print(secret, soft_wrap=True, highlight=False)
    console.print("[yellow]Keep it now: it cannot be shown again.[/yellow]")


@keys.command("list")
def list_api_keys() -> None:
    """Every key with its scopes and state (never the secret)."""
    table = Table("id", "name", "scopes", "development", "created", "revoked")
    for info in list_keys(key_storage()):
        revoked = f"{info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else ""
        table.add_row(
            info.id, info.name, ", ".join(info.scopes), "yes" if info.development else "",
            f"{info.created_at:%Y-%m-%d %H:%M}", revoked,
        )  # fmt: skip
    console.print(table)


@keys.command("revoke")
def revoke_api_key(key_id: str) -> None:
    """Revoke a key by id; the API stops accepting it within VTUBER_API_KEY_CACHE_S."""
    if not revoke_key(key_storage(), key_id):
        console.print(f"[red]no live key {key_id}[/red]")
        raise typer.Exit(code=1)
    console.print(f"key {key_id} revoked")


if __name__ == "__main__":
    cli()
