"""A realtime listen's final transcript becomes a turn of the session, exactly once.

The text is submitted like a typed utterance (kind ``text``: the STT is done, the LLM is next). Its
job id is fixed in Redis per (listen, utterance) before the job is created, so a worker that takes
the listen over after a crash finds the job its predecessor created instead of making a second. With
the listen's ``interrupt`` flag the session's unfinished turns are cut off first (barge-in), as the
utterance route does.
"""

import contextlib

from pymongo.errors import DuplicateKeyError

from pipelines.followups import run_job_followups
from pipelines.interrupts import interrupt_job, unfinished_jobs
from pipelines.jobs import new_id
from pipelines.listen_streams import ListenChannel, ListenMeta
from pipelines.logging_setup import get_logger
from pipelines.stages.context import StageContext
from pipelines.submission import submit_turn

log = get_logger(__name__)


def submit_listened(
    ctx: StageContext, channel: ListenChannel, meta: ListenMeta, utterance: int, text: str
) -> str:
    """Submit ``text`` as the session's next turn; its job id (the earlier one on a repeat)."""
    job_id = channel.job_id_for(utterance, new_id())
    if ctx.storage.jobs.count_documents({"_id": job_id}, limit=1):
        return job_id  # a worker before this one got as far as creating it
    if meta.interrupt:
        for unfinished in unfinished_jobs(ctx.storage, meta.session_id):
            interrupted = interrupt_job(ctx.storage, channel.client, unfinished, by="utterance")
            if interrupted is not None:
                run_job_followups(ctx, interrupted)  # its end event, context turn and webhook
    # a worker that lost the listen meanwhile may have created it since the check
    with contextlib.suppress(DuplicateKeyError):
        submit_turn(
            ctx.storage,
            ctx.events,
            ctx.dispatcher,
            job_id=job_id,
            session_id=meta.session_id,
            owner=meta.owner,
            persona=meta.persona,
            persona_version=meta.persona_version,
            kind="text",
            input_text=text,
            callback_url=None,
            extra={"viewer_id": None, "viewer_name": None, "listen_id": channel.keys.listen_id},
        )
    log.info("listen final submitted", job_id=job_id, session_id=meta.session_id, utterance=utterance)
    return job_id
