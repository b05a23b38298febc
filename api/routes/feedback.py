"""Feedback on a turn, kept for retraining."""

from fastapi import APIRouter, status

from api.auth import CallerKey, owned_or_404
from api.deps import StorageDep
from pipelines.jobs import get_job, new_id, utcnow
from schemas.feedback import FeedbackIn, FeedbackOut

router = APIRouter(prefix="/v1", tags=["feedback"])


@router.post("/jobs/{job_id}/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackOut)
def add_feedback(job_id: str, body: FeedbackIn, key: CallerKey, storage: StorageDep) -> FeedbackOut:
    owned_or_404(key, get_job(storage, job_id), f"job {job_id}")
    doc = {"_id": new_id(), "job_id": job_id, "created_at": utcnow(), **body.model_dump()}
    storage.journaled(storage.feedback).insert_one(doc)
    return FeedbackOut(id=doc["_id"], **{k: v for k, v in doc.items() if k != "_id"})
