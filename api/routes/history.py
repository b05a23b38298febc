"""A session's history, feedback on a turn, and a live progress stream for one job."""

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import State, StorageDep
from api.errors import ApiError
from api.presenters import job_out
from pipelines.jobs import get_job, new_id, utcnow
from schemas.errors import ErrorCode
from schemas.feedback import FeedbackIn, FeedbackOut
from schemas.jobs import JobOut

router = APIRouter(prefix="/v1", tags=["history"])
POLL_INTERVAL_S = 0.2


@router.get("/sessions/{session_id}/jobs", response_model=list[JobOut])
def session_history(
    session_id: str, state: State, limit: int = Query(default=20, ge=1, le=200)
) -> list[JobOut]:
    """The session's turns, newest first."""
    if state.storage.sessions.count_documents({"_id": session_id}, limit=1) == 0:
        raise ApiError(ErrorCode.not_found, f"session {session_id} not found")
    docs = state.storage.jobs.find({"session_id": session_id}).sort("created_at", -1).limit(limit)
    return [job_out(state.storage, state.settings, doc) for doc in docs]


@router.post("/jobs/{job_id}/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackOut)
def add_feedback(job_id: str, body: FeedbackIn, storage: StorageDep) -> FeedbackOut:
    if get_job(storage, job_id) is None:
        raise ApiError(ErrorCode.not_found, f"job {job_id} not found")
    doc = {"_id": new_id(), "job_id": job_id, "created_at": utcnow(), **body.model_dump()}
    storage.feedback.insert_one(doc)
    return FeedbackOut(id=doc["_id"], **{k: v for k, v in doc.items() if k != "_id"})


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse)
async def job_events(job_id: str, state: State) -> StreamingResponse:
    """Server-sent events: the job each time it changes, until it completes or fails."""
    if await run_in_threadpool(get_job, state.storage, job_id) is None:
        raise ApiError(ErrorCode.not_found, f"job {job_id} not found")

    async def events() -> AsyncIterator[str]:
        last = ""
        while True:
            job = await run_in_threadpool(get_job, state.storage, job_id)
            if job is None:
                return
            view = await run_in_threadpool(job_out, state.storage, state.settings, job)
            payload = view.model_dump_json()
            if payload != last:
                last = payload
                yield f"event: job\ndata: {payload}\n\n"
            if view.status in ("completed", "failed"):
                yield f"event: end\ndata: {json.dumps({'status': view.status.value})}\n\n"
                return
            await asyncio.sleep(POLL_INTERVAL_S)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
