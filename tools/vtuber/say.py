"""`vtuber say`: one turn (typed or spoken), followed live through the job's event stream, then
what was heard and answered, with each segment's audio saved."""

import json
import mimetypes
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Group
from rich.live import Live
from rich.text import Text

from tools.vtuber.client import EXIT_REFUSED, EXIT_UNAVAILABLE, ApiClient, ApiFailure
from tools.vtuber.context import cli
from tools.vtuber.views import print_job, shorten

FINAL_EVENTS = ("job.completed", "job.failed", "job.interrupted")
FINISHED = ("completed", "failed", "interrupted")
MAX_RECONNECTS = 5


def say(
    ctx: typer.Context,
    text: str | None = typer.Argument(None, help="what the viewer types (or use --audio)"),
    audio: Path | None = typer.Option(
        None, "--audio", "-a", exists=True, dir_okay=False, readable=True, help="what the viewer says: a file"
    ),
    session: str | None = typer.Option(None, "--session", "-s", help="a session id; a new one if omitted"),
    persona: str | None = typer.Option(None, help="the new session's persona (default: the API's)"),
    out_dir: Path = typer.Option(
        Path("."), "--out", "-o", file_okay=False, help="where the segments' audio goes"
    ),
    follow: bool = typer.Option(False, "--follow", "-f", help="print every event of the turn as it arrives"),
    interrupt: bool = typer.Option(False, help="cut off what the avatar is still saying (barge-in)"),
    max_wait: float = typer.Option(600.0, min=1, help="seconds to wait for the turn to finish"),
) -> None:
    """Send one utterance, follow the turn live, print transcript and reply, save the audio."""
    if (text is None) == (audio is None):
        raise typer.BadParameter("give either TEXT or --audio FILE")
    out = cli(ctx)
    api = out.api
    if session is None:
        session = str(api.json("POST", "/v1/sessions", json={"persona": persona} if persona else {})["id"])
        out.status.print(f"session {session}", highlight=False)
    accepted = submit(api, session, text=text, audio=audio, interrupt=interrupt)
    job_id = str(accepted["job_id"])
    progress = TurnProgress(job_id, said=text or "")

    def on_event(kind: str, data: dict[str, Any]) -> None:
        progress.apply(kind, data)
        if follow:
            out.console.print(progress.event_line(kind, data), markup=False, highlight=False)

    with Live(progress, console=out.status, transient=True, refresh_per_second=8):
        follow_job(api, job_id, on_event, max_wait=max_wait)
    job = api.get(f"/v1/jobs/{job_id}")
    saved = save_segments(api, job, out_dir)
    print_job(out.console, job, saved)
    if job["status"] != "completed":
        raise typer.Exit(EXIT_REFUSED)


def submit(api: ApiClient, session: str, *, text: str | None, audio: Path | None, interrupt: bool) -> Any:
    path = f"/v1/sessions/{session}/utterances"
    if audio is None:
        return api.json("POST", path, json={"text": text, "interrupt": interrupt})
    content_type = mimetypes.guess_type(audio.name)[0] or "application/octet-stream"
    return api.json(
        "POST",
        path,
        files={"audio": (audio.name, audio.read_bytes(), content_type)},
        data={"interrupt": "true"} if interrupt else {},
    )


def follow_job(
    api: ApiClient, job_id: str, on_event: Callable[[str, dict[str, Any]], None], *, max_wait: float
) -> str:
    """Every event of the job until its last, through /v1/jobs/{id}/events; a dropped or
    time-limited connection resumes after the last event seen. Returns the job's final status."""
    deadline = time.monotonic() + max_wait
    last_id: str | None = None
    reconnects = 0
    while time.monotonic() < deadline:
        try:
            for event in api.events(f"/v1/jobs/{job_id}/events", last_event_id=last_id):
                last_id = event.id or last_id
                if not event.data:
                    continue
                on_event(event.event, json.loads(event.data))
                if event.event in FINAL_EVENTS:
                    return event.event.removeprefix("job.")
        except ApiFailure as exc:
            if exc.code != "unreachable" or reconnects >= MAX_RECONNECTS:
                raise
            reconnects += 1
            time.sleep(0.5 * reconnects)
            continue
        status = str(api.get(f"/v1/jobs/{job_id}")["status"])  # the stream ended without its last event
        if status in FINISHED:
            return status
    raise ApiFailure(
        "timeout", f"job {job_id} did not finish within {max_wait:.0f} s", exit_code=EXIT_UNAVAILABLE
    )


def save_segments(api: ApiClient, job: dict[str, Any], out: Path) -> dict[int, str]:
    """Each segment's audio as ``<out>/<job id>-<index>.<format>``; returns where each went."""
    saved: dict[int, str] = {}
    for segment in job.get("segments") or []:
        if not segment.get("audio_url"):
            continue
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"{job['id']}-{segment['index']}.{segment.get('audio_format') or 'wav'}"
        target.write_bytes(api.download(segment["audio_url"]))
        saved[segment["index"]] = str(target)
    return saved


class TurnProgress:
    """The turn as its events have told it so far, rendered by rich's live display."""

    def __init__(self, job_id: str, *, said: str = "") -> None:
        self.job_id = job_id
        self.started = time.monotonic()
        self.state = "queued"
        self.heard = said
        self.segments: dict[int, str] = {}
        self.with_audio: set[int] = set()
        self.total: int | None = None

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        segment = data.get("segment") or {}
        if kind == "stage.started":
            self.state = f"running ({data.get('stage')})"
        elif kind == "transcript.ready":
            self.heard = str((data.get("transcript") or {}).get("text") or "").strip()
        elif kind == "segment.queued":
            self.segments[segment["index"]] = segment.get("text") or ""
        elif kind == "segment.audio_ready":
            self.with_audio.add(segment["index"])
        elif kind in FINAL_EVENTS:
            self.state = kind.removeprefix("job.")
            self.total = data.get("segments_total")

    def event_line(self, kind: str, data: dict[str, Any]) -> str:
        """One line per event for --follow: when (seconds since submit), what, and its gist."""
        segment = data.get("segment") or {}
        number = f"#{segment.get('index')}"
        gist = {
            "stage.started": str(data.get("stage")),
            "stage.finished": f"{data.get('stage')} {data.get('seconds') or 0:.2f} s",
            "transcript.ready": self.heard,
            "segment.queued": f"{number} {segment.get('text', '')}",
            "segment.audio_ready": f"{number} {segment.get('duration_s') or 0:.2f} s of audio",
            "segment.animation_ready": f"{number} animation track",
            "job.completed": str((data.get("reply") or {}).get("text") or ""),
            "job.failed": "{code}: {message}".format(**(data.get("error") or {"code": "?", "message": ""})),
            "job.interrupted": str((data.get("interruption") or {}).get("by") or ""),
        }.get(kind, "")
        return f"{time.monotonic() - self.started:7.2f} s  {kind:<24} {gist}".rstrip()

    def __rich__(self) -> Group:
        reply = " ".join(text for _, text in sorted(self.segments.items()))
        lines = [
            Text(f"job {self.job_id}: {self.state}, {time.monotonic() - self.started:.1f} s"),
            Text(f"said:  {shorten(self.heard, 100)}") if self.heard else Text("said:  …"),
            Text(f"reply: {shorten(reply, 100)}") if reply else Text("reply: …"),
            Text(f"audio: {len(self.with_audio)} of {self.total or len(self.segments) or '?'} segments"),
        ]
        return Group(*lines)
