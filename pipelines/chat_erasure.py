"""Platform chat's eraser (pipelines/erasure.py): what a chat said goes with what it is part of.

- A session erased: its sources (the chat workers let the connections go), every line its chats
  brought in, and its chat stream in Redis.
- A viewer erased (``DELETE /v1/viewers/{id}``, one owner's viewer): every line they wrote in that
  owner's sessions, answered or not.
- Turns erased (a viewer's, or expired by retention): the lines they answered.

Lines that were never answered belong to no turn, so retention expires them by age here too
(``expire_chat_lines``, run by the chat workers every ``retention_interval_s``).
"""

from datetime import datetime

from pipelines.chat_sources import chat_messages, sources
from pipelines.chat_stream import cursor_key, stream_key
from pipelines.erasure import Erasure, ErasureContext, register_eraser
from pipelines.storage import Storage


def erase_chat(ctx: ErasureContext, erasure: Erasure) -> int:
    lines = chat_messages(ctx.storage)
    removed = 0
    if erasure.session_ids:
        session_ids = list(erasure.session_ids)
        sources(ctx.storage).delete_many({"session_id": {"$in": session_ids}})
        removed += lines.delete_many({"session_id": {"$in": session_ids}}).deleted_count
        ctx.redis.delete(*[key for sid in session_ids for key in (stream_key(sid), cursor_key(sid))])
    if erasure.viewer_id and erasure.owner is not None:
        removed += lines.delete_many({"viewer_id": erasure.viewer_id, "owner": erasure.owner}).deleted_count
    if erasure.job_ids:
        removed += lines.delete_many({"job_id": {"$in": list(erasure.job_ids)}}).deleted_count
    return removed


def expire_chat_lines(storage: Storage, cutoff: datetime) -> int:
    """Lines received before ``cutoff``, whatever became of them."""
    return int(chat_messages(storage).delete_many({"received_at": {"$lt": cutoff}}).deleted_count)


register_eraser("chat_lines", erase_chat)
