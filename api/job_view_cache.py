"""Rendered job views kept per version, so a poll of an unchanged job costs one Redis read.

Workers write MongoDB before they append the event that bumps a job's version, so a view read
after version ``V`` was seen is at least as new as ``V``: caching it under ``V`` is safe.
"""

from collections import OrderedDict
from dataclasses import dataclass

from pipelines.events import NO_VERSION
from pipelines.jobs import FINISHED
from schemas.jobs import JobOut


@dataclass(frozen=True)
class RenderedJob:
    version: str
    terminal: bool
    body: bytes
    owner: str | None  # the API key that submitted the job (checked on every poll)


class JobViewCache:
    """A bounded LRU of the latest rendered view per job."""

    def __init__(self, max_jobs: int = 4096) -> None:
        self.max_jobs = max_jobs
        self._views: OrderedDict[str, RenderedJob] = OrderedDict()

    def get(self, job_id: str, version: str) -> RenderedJob | None:
        view = self._views.get(job_id)
        if view is None or view.version != version:
            return None
        self._views.move_to_end(job_id)
        return view

    def render(self, view: JobOut, version: str, owner: str | None) -> RenderedJob:
        """Serialize ``view`` once and keep it while ``version`` is current."""
        rendered = RenderedJob(
            version=version,
            terminal=view.status in FINISHED,
            body=view.model_copy(update={"version": version}).model_dump_json().encode(),
            owner=owner,
        )
        if version != NO_VERSION:  # without a log there is no version to tell a change by
            self._views[view.id] = rendered
            self._views.move_to_end(view.id)
            while len(self._views) > self.max_jobs:
                self._views.popitem(last=False)
        return rendered
