"""The chat queue's task: one selection pass for a session (which chat line the avatar answers).

Sent by the connector host (workers/chat_host.py) when lines arrive and every
``chat_select_interval_s`` while a session has sources; the pass itself is plain code in
pipelines/chat_selector.py. A pass that finds another one running for the session returns at
once (the lock in Redis); a pass that fails is not retried: the next nudge comes within a second.
"""

from functools import lru_cache

from celery import Task
from celery.signals import worker_process_init

from pipelines.chat_ranking import LlmRanker, Moderator
from pipelines.chat_selector import ChatSelector
from pipelines.logging_setup import get_logger
from pipelines.queues import TaskName
from workers.runtime import app, redis_client, settings, stage_context, storage
from workers.tasks.base import INFRASTRUCTURE_ERRORS

log = get_logger(__name__)


@lru_cache
def selector() -> ChatSelector:
    config = settings()
    context = stage_context()
    moderator = (
        Moderator(config.chat_moderation_url, config.openai_api_key) if config.chat_moderation_url else None
    )
    ranker = None
    if config.chat_ranker == "llm" and config.openai_base_url:
        ranker = LlmRanker(config.openai_base_url, config.openai_model, config.openai_api_key)
    return ChatSelector(
        storage(),
        redis_client(),
        context.events,
        context.dispatcher,
        config,
        moderator=moderator,
        ranker=ranker,
    )


@worker_process_init.connect
def _fresh_selector_after_fork(**_: object) -> None:
    selector.cache_clear()


@app.task(name=TaskName.select_chat_replies, bind=True, acks_late=False)
def select_replies(self: Task, session_id: str) -> None:
    try:
        result = selector().run_pass(session_id)
    except INFRASTRUCTURE_ERRORS as exc:
        log.warning("chat selection skipped", session_id=session_id, error=repr(exc)[:200])
        return
    if result.answered:
        log.info("chat selection answered", session_id=session_id, job_id=result.job_id, stored=result.stored)
