"""How a job reads in a terminal: a summary line for lists, and its full view (transcript, reply,
stage timings, segments) for `vtuber job` and the end of `vtuber say`."""

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

STAGES = ("stt", "llm", "tts", "animation")


def shorten(text: str | None, width: int = 48) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def said(job: dict[str, Any]) -> str:
    """What the viewer said (or the operator typed)."""
    transcript = job.get("transcript") or {}
    return str(transcript.get("text") or job.get("input_text") or "").strip()


def answered(job: dict[str, Any]) -> str:
    """The reply, from a full job view (``reply.text``) or a recent-jobs summary (``reply_text``)."""
    return str((job.get("reply") or {}).get("text") or job.get("reply_text") or "")


def stage_seconds(job: dict[str, Any]) -> str:
    """``stt 0.41 llm 1.20 ...``: each stage's own work, in the order they run."""
    timings = job.get("timings") or {}
    parts = [
        f"{stage} {timings[stage]['seconds']:.2f}"
        for stage in STAGES
        if (timings.get(stage) or {}).get("seconds") is not None
    ]
    return " ".join(parts)


def jobs_table(jobs: list[dict[str, Any]]) -> Table:
    table = Table("job", "kind", "status", "created (UTC)", "said", "reply", "stage seconds")
    for job in jobs:
        table.add_row(
            job["id"], job["kind"], status_of(job), job["created_at"][:19].replace("T", " "),
            Text(shorten(said(job), 32)), Text(shorten(answered(job), 40)), stage_seconds(job),
        )  # fmt: skip
    return table


def status_of(job: dict[str, Any]) -> str:
    if job["status"] == "running" and job.get("stage"):
        return f"running ({job['stage']})"
    if job["status"] == "failed" and job.get("error"):
        return f"failed ({job['error']['code']})"
    return str(job["status"])


def print_job(console: Console, job: dict[str, Any], saved: dict[int, str] | None = None) -> None:
    """The whole job; ``saved`` names the file each segment's audio was written to."""
    console.print(f"job {job['id']}  {job['kind']}  {status_of(job)}  session {job.get('session_id') or '-'}")
    if said(job):
        console.print(f"said:       {said(job)}", markup=False)
    if job.get("reply"):
        console.print(f"reply:      {answered(job)}", markup=False)
        motions = ", ".join(job["reply"].get("motions") or []) or "-"
        console.print(f"emotion:    {job['reply'].get('emotion')}  motions: {motions}", markup=False)
    if job.get("error"):
        error = job["error"]
        console.print(f"error:      {error['code']}: {error['message']}", markup=False)
    if job.get("interruption"):
        console.print(f"cut off:    heard {job['interruption']['heard_text']!r}", markup=False)
    timings = job.get("timings") or {}
    if any(timings.get(stage) for stage in STAGES):
        table = Table("stage", "seconds", title="stages")
        for stage in STAGES:
            if seconds := (timings.get(stage) or {}).get("seconds"):
                table.add_row(stage, f"{seconds:.2f}")
        console.print(table)
    if job.get("segments"):
        console.print(segments_table(job["segments"], saved))


def segments_table(segments: list[dict[str, Any]], saved: dict[int, str] | None) -> Table:
    columns = ["#", "text", "emotion", "seconds", "saved to" if saved is not None else "audio"]
    table = Table(*columns, title="segments")
    for segment in segments:
        duration = segment.get("duration_s")
        where = (saved or {}).get(segment["index"], "") if saved is not None else segment.get("audio_url")
        table.add_row(
            str(segment["index"]), Text(segment["text"]), segment.get("emotion") or "",
            f"{duration:.2f}" if duration is not None else "", where or "",
        )  # fmt: skip
    return table
