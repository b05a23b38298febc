"""Chosen turns as OpenAI chat fine-tuning JSONL: one ``{"messages": [system, user, assistant]}``
line per turn, read from a MongoDB cursor and yielded line by line (never the whole file in memory).

- system: the prompt the turn was answered with (persona_prompts.py). A turn accepted before
  prompts were kept uses the persona file on disk if it still has that version; otherwise the
  turn is skipped and counted (``skipped_no_prompt``): a different persona's words would teach
  the wrong character.
- user: what the viewer typed or said, with chat-template control tokens removed as in the prompt.
- assistant: the latest ``corrected_reply`` from feedback if any, else the reply as the model wrote
  it, each sentence with its emotion tag (and gesture tags), the format the persona is asked for.
"""

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from pipelines.persona_prompts import current_prompt, prompts_by_id
from pipelines.prompting import neutralize_control_tokens
from pipelines.storage import Storage
from schemas.jobs import JobKind, JobStatus

BATCH = 200  # turns per round of feedback/segments/prompt lookups


@dataclass(frozen=True)
class TurnFilter:
    persona: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_rating: int | None = None  # turns without a rating are left out when set
    include_interrupted: bool = False  # failed turns never (they have no finished reply)

    def jobs_query(self, kinds: tuple[str, ...]) -> dict[str, Any]:
        statuses = [JobStatus.completed.value]
        if self.include_interrupted:
            statuses.append(JobStatus.interrupted.value)
        query: dict[str, Any] = {"kind": {"$in": list(kinds)}, "status": {"$in": statuses}}
        if self.persona is not None:
            query["persona"] = self.persona
        created: dict[str, Any] = {}
        if self.since is not None:
            created["$gte"] = self.since
        if self.until is not None:
            created["$lt"] = self.until
        if created:
            query["created_at"] = created
        return query


VIEWER_TURNS = (JobKind.text.value, JobKind.audio.value)


def batches(cursor: Any, size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(cursor)
    while chunk := list(islice(iterator, size)):
        yield chunk


def chat_lines(storage: Storage, turns: TurnFilter, stats: Counter[str] | None = None) -> Iterator[str]:
    """JSONL lines (each ending in a newline); ``stats`` counts written and skipped turns."""
    stats = stats if stats is not None else Counter()
    cursor = storage.jobs.find(turns.jobs_query(VIEWER_TURNS)).sort("created_at", 1).batch_size(BATCH)
    for jobs in batches(cursor, BATCH):
        ids = [job["_id"] for job in jobs]
        ratings = latest_feedback(storage, ids)
        tagged = tagged_replies(storage, jobs)
        prompts = prompts_by_id(
            storage, {job["system_prompt_id"] for job in jobs if job.get("system_prompt_id")}
        )
        for job in jobs:
            line = chat_example(job, ratings.get(job["_id"]), tagged.get(job["_id"]), prompts, turns, stats)
            if line is not None:
                stats["written"] += 1
                yield json.dumps(line, ensure_ascii=False) + "\n"


def chat_example(
    job: dict[str, Any],
    feedback: dict[str, Any] | None,
    tagged_reply: str | None,
    prompts: dict[str, str],
    turns: TurnFilter,
    stats: Counter[str],
) -> dict[str, Any] | None:
    if turns.min_rating is not None and (feedback is None or feedback["rating"] < turns.min_rating):
        stats["skipped_rating"] += 1
        return None
    system = prompts.get(job.get("system_prompt_id") or "") or current_prompt(
        job["persona"], job["persona_version"]
    )
    if system is None:
        stats["skipped_no_prompt"] += 1
        return None
    user = neutralize_control_tokens(job.get("input_text") or (job.get("transcript") or {}).get("text") or "")
    if interruption := job.get("interruption"):
        reply = interruption.get("heard_text") or ""
    else:
        reply = tagged_reply or (job.get("reply") or {}).get("text") or ""
    corrected = (feedback or {}).get("corrected_reply")
    assistant = corrected if corrected else reply
    if not user.strip() or not assistant.strip():
        stats["skipped_empty"] += 1
        return None
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user.strip()},
            {"role": "assistant", "content": assistant.strip()},
        ]
    }


def latest_feedback(storage: Storage, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per job, its newest rating, with the newest correction given for it (if any)."""
    latest: dict[str, dict[str, Any]] = {}
    corrections: dict[str, str] = {}
    for doc in storage.feedback.find({"job_id": {"$in": job_ids}}).sort("created_at", 1):
        latest[doc["job_id"]] = doc
        if doc.get("corrected_reply"):
            corrections[doc["job_id"]] = doc["corrected_reply"]
    return {job_id: {**doc, "corrected_reply": corrections.get(job_id)} for job_id, doc in latest.items()}


def tagged_replies(storage: Storage, jobs: list[dict[str, Any]]) -> dict[str, str]:
    """The reply as the model produced it: ``[emotion] [gesture] sentence`` per segment, in order."""
    attempts = {job["_id"]: int(job.get("llm_attempt") or 0) for job in jobs}
    sentences: dict[str, list[tuple[int, str]]] = defaultdict(list)
    fields = {"job_id": 1, "attempt": 1, "index": 1, "text": 1, "emotion": 1, "motions": 1}
    for segment in storage.segments.find({"job_id": {"$in": list(attempts)}}, fields):
        if segment["attempt"] != attempts[segment["job_id"]]:
            continue
        tags = [f"[{segment.get('emotion') or 'neutral'}]", *(f"[{m}]" for m in segment.get("motions") or [])]
        sentences[segment["job_id"]].append((segment["index"], " ".join([*tags, segment["text"]])))
    return {job_id: " ".join(text for _, text in sorted(parts)) for job_id, parts in sentences.items()}
