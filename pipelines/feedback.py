"""Ratings of turns: stored with the turn's persona, session and viewer copied in, so the admin
query (persona, date range, rating) is one indexed range query, paged like history."""

from datetime import datetime
from typing import Any

from pipelines.jobs import new_id, utcnow
from pipelines.paging import NEWEST_FIRST, older_than, page_of
from pipelines.storage import Storage
from schemas.feedback import FeedbackIn, FeedbackOut, FeedbackPage

COPIED_FROM_JOB = ("session_id", "persona", "persona_version", "viewer_id")


def add_feedback(storage: Storage, job: dict[str, Any], body: FeedbackIn) -> FeedbackOut:
    doc = {
        "_id": new_id(),
        "job_id": job["_id"],
        "created_at": utcnow(),
        **{field: job.get(field) for field in COPIED_FROM_JOB},
        **body.model_dump(),
    }
    storage.journaled(storage.feedback).insert_one(doc)
    return feedback_out(doc)


def feedback_out(doc: dict[str, Any]) -> FeedbackOut:
    return FeedbackOut.model_validate({"id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}})


def feedback_filter(
    *,
    persona: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    rating: int | None = None,
    min_rating: int | None = None,
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if persona is not None:
        query["persona"] = persona
    created: dict[str, Any] = {}
    if since is not None:
        created["$gte"] = since
    if until is not None:
        created["$lt"] = until
    if created:
        query["created_at"] = created
    if rating is not None:
        query["rating"] = rating
    elif min_rating is not None:
        query["rating"] = {"$gte": min_rating}
    return query


def find_feedback(storage: Storage, query: dict[str, Any], *, limit: int, cursor: str | None) -> FeedbackPage:
    """Newest first; raises ``paging.BadCursor`` for a cursor this API did not hand out."""
    paged = {"$and": [query, older_than(cursor)]} if cursor else query
    docs, next_cursor = page_of(list(storage.feedback.find(paged).sort(NEWEST_FIRST).limit(limit + 1)), limit)
    return FeedbackPage(feedback=[feedback_out(doc) for doc in docs], next_cursor=next_cursor)
