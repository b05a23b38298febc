"""Distil a finished turn into long-term memories, off the live path (the memory queue).

From a turn that carries a ``viewer_id``: the facts the viewer stated in it (pipelines/memory_facts.py),
and the session's summary so far (the viewer's latest lines there, dated), each embedded and stored
under the turn's owner (the API key that sent it), the viewer and the persona. Everything is keyed
and upserted, so a redelivered task stores the same rows again and nothing twice.
"""

from typing import Any

from pipelines.backends import TextEmbedder
from pipelines.memory_facts import extract_facts
from pipelines.memory_store import Memory, MemoryStore, memory_owner
from pipelines.storage import Storage
from schemas.jobs import JobKind, JobStatus

DISTILLED_KINDS = (JobKind.audio.value, JobKind.text.value)
DISTILLED_STATUSES = (JobStatus.completed.value, JobStatus.interrupted.value)
SUMMARY_LINE_CHARS = 90


def viewer_line(job: dict[str, Any]) -> str:
    return (job.get("input_text") or (job.get("transcript") or {}).get("text") or "").strip()


def session_summary(storage: Storage, job: dict[str, Any], *, lines: int) -> str:
    """The viewer's latest ``lines`` lines in this session, oldest first, dated by the session's
    first turn: cheap and deterministic (an LLM summary can replace it without changing the store)."""
    said = list(
        storage.jobs.find(
            {
                "session_id": job["session_id"],
                "viewer_id": job["viewer_id"],
                "status": {"$in": list(DISTILLED_STATUSES)},
                "kind": {"$in": list(DISTILLED_KINDS)},
                "created_at": {"$lte": job["created_at"]},
            },
            {"input_text": 1, "transcript.text": 1, "created_at": 1},
        )
        .sort("created_at", -1)
        .limit(lines)
    )
    said.reverse()
    quoted = []
    for turn in said:
        text = " ".join(viewer_line(turn).split())
        if text:
            quoted.append(
                '"' + (text if len(text) <= SUMMARY_LINE_CHARS else text[:SUMMARY_LINE_CHARS] + "…") + '"'
            )
    if not quoted:
        return ""
    day = said[0]["created_at"].strftime("%Y-%m-%d")
    return f"In a stream on {day} they said: " + " / ".join(quoted)


def distill_turn(
    storage: Storage, store: MemoryStore, embedder: TextEmbedder, job_id: str, *, summary_lines: int
) -> int:
    """Store what turn ``job_id`` taught about its viewer; returns the rows written (0: nothing to learn)."""
    job = storage.jobs.find_one({"_id": job_id})
    if (
        job is None
        or not job.get("viewer_id")
        or not job.get("session_id")
        or job.get("kind") not in DISTILLED_KINDS
        or job.get("status") not in DISTILLED_STATUSES
    ):
        return 0
    rows: list[tuple[str, str, str]] = [
        ("fact", fact.slot, fact.text) for fact in extract_facts(viewer_line(job))
    ]
    summary = session_summary(storage, job, lines=summary_lines)
    if summary:
        rows.append(("summary", f"summary:{job['session_id']}", summary))
    if not rows:
        return 0
    vectors = embedder.embed([text for _, _, text in rows])
    store.upsert(
        [
            Memory(
                owner=memory_owner(job),
                viewer_id=job["viewer_id"],
                persona=job["persona"],
                session_id=job["session_id"],
                kind=kind,
                key=key,
                text=text,
                job_id=job_id,
                vector=vector,
            )
            for (kind, key, text), vector in zip(rows, vectors, strict=True)
        ]
    )
    return len(rows)
