"""`make demo` and `make run`: the embedded default stack on this machine, no Docker, no keys."""

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from pipelines.settings import PROJECT_ROOT
from tools.spoken import spoken_wav
from tools.stack import Stack

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


def start_stack(run_dir: Path, api_port: int | None = None) -> Stack:
    stack = Stack(run_dir=run_dir)
    if api_port:
        stack.api_port = api_port
    with console.status("starting Redis, the MongoDB-protocol server, 5 Celery workers and the API"):
        stack.start()
        stack.wait_for_workers()
    return stack


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
    stack = start_stack(run_dir)
    try:
        with httpx.Client(base_url=stack.api_url, timeout=60) as client:
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
    finally:
        with console.status("stopping everything the demo started"):
            stack.stop_all()
    console.print(f"logs and audio: {run_dir.relative_to(PROJECT_ROOT)}")


@cli.command()
def run(
    port: int = typer.Option(8000, help="API port"), flower_port: int = typer.Option(5555, help="Flower port")
) -> None:
    """Start the embedded stack and keep it running until Ctrl-C."""
    run_dir = PROJECT_ROOT / ".run" / "stack"
    prepare_models()
    stack = start_stack(run_dir, api_port=port)
    flower = stack.start_flower(flower_port)
    console.print(
        f"API        {stack.api_url}  (docs: {stack.api_url}/docs, metrics: {stack.api_url}/metrics)"
    )
    console.print(f"Flower     {flower}  (queues, workers, tasks)")
    console.print(f"Redis      {stack.redis_url}")
    console.print(f"MongoDB    {stack.mongo_url}")
    console.print(f"logs       {run_dir.relative_to(PROJECT_ROOT)}/")
    console.print("Ctrl-C stops everything.")
    try:
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(1)
        console.print("[red]a process exited; see its log[/red]")
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop_all()


if __name__ == "__main__":
    cli()
