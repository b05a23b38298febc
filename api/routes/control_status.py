"""What the control panel (/control) shows, for admin keys: the pipeline's state at a glance, the
newest turns of every session with their stage timings, and batch progress."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import AdminGuard
from api.deps import State
from pipelines.control_status import control_status, recent_batches, recent_jobs
from pipelines.urls import url
from pipelines.worker_census import CachedCensus, take_census
from schemas.control_status import BatchSummary, ControlStatus, JobSummary
from schemas.jobs import JobStatus

router = APIRouter(prefix="/v1", tags=["control"], dependencies=[AdminGuard])
CENSUS_TIMEOUT_S = 2.0  # how long workers have to answer the broadcast (a busy one answers late)
CENSUS_MAX_AGE_S = 4.0  # a panel polled every few seconds by several operators: one broadcast per interval


def worker_census(request: Request, state: State) -> CachedCensus:
    """One cached census per app (built on first use, from the app's own Celery client)."""
    census: CachedCensus | None = getattr(request.app.state, "worker_census", None)
    if census is None:
        census = CachedCensus(
            lambda: take_census(state.celery, timeout_s=CENSUS_TIMEOUT_S), max_age_s=CENSUS_MAX_AGE_S
        )
        request.app.state.worker_census = census
    return census


@router.get("/control/status", response_model=ControlStatus)
async def get_status(request: Request, state: State) -> ControlStatus:
    """STT routing, messages waiting per queue, workers online per queue and per pool (GPU or CPU),
    and where Flower, Grafana and the API docs are."""
    census = await run_in_threadpool(worker_census(request, state).get)
    docs_url = url(state.settings, request.app.docs_url or "/docs")
    return await run_in_threadpool(
        control_status, state.settings, state.redis, state.router, census, docs_url=docs_url
    )


@router.get("/jobs", response_model=list[JobSummary])
def list_recent_jobs(
    state: State,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    status: Annotated[JobStatus | None, Query(description="Only turns in this status.")] = None,
) -> list[JobSummary]:
    """The newest turns of every session (newest first) with per-stage timings."""
    return recent_jobs(state.storage, limit=limit, status=status)


@router.get("/control/batches", response_model=list[BatchSummary])
def list_recent_batches(state: State, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> list[BatchSummary]:
    """The newest transcription batches with their progress."""
    return recent_batches(state.storage, limit=limit)
