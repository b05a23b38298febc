"""Feedback on a turn, kept for retraining; and the admin's view of it by persona, date and rating."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.concurrency import run_in_threadpool

from api.auth import AdminKey, CallerKey, owned_or_404
from api.deps import StorageDep
from api.errors import ApiError
from pipelines import feedback
from pipelines.jobs import get_job
from pipelines.paging import BadCursor
from schemas.errors import ErrorCode
from schemas.feedback import FeedbackIn, FeedbackOut, FeedbackPage

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post("/jobs/{job_id}/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackOut)
def add_feedback(job_id: str, body: FeedbackIn, key: CallerKey, storage: StorageDep) -> FeedbackOut:
    job = owned_or_404(key, get_job(storage, job_id), f"job {job_id}")
    return feedback.add_feedback(storage, job, body)


@router.get("/feedback", response_model=FeedbackPage)
async def list_feedback(
    _: AdminKey,
    storage: StorageDep,
    persona: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="Ratings given at or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Ratings given before this time.")] = None,
    rating: Annotated[int | None, Query(ge=-1, le=1, description="Exactly this rating.")] = None,
    min_rating: Annotated[int | None, Query(ge=-1, le=1, description="This rating or better.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> FeedbackPage:
    """Every rating matching the filters, newest first, a page at a time (admin scope)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ApiError(
                ErrorCode.validation_error, f"{name} needs a time zone (e.g. 2026-11-01T00:00:00Z)"
            )
    query = feedback.feedback_filter(
        persona=persona, since=since, until=until, rating=rating, min_rating=min_rating
    )
    try:
        return await run_in_threadpool(feedback.find_feedback, storage, query, limit=limit, cursor=cursor)
    except BadCursor as exc:
        raise ApiError(ErrorCode.validation_error, str(exc)) from exc
