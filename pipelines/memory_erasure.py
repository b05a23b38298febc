"""The memory store's eraser (pipelines/erasure.py): erasing a session, a viewer or expired data
erases the long-term memories that came from it.

Registered when imported (erasure.ERASER_MODULES lists this module). Also callable directly:
``delete_viewer_memories`` / ``delete_session_memories``.
"""

import importlib.util
from pathlib import Path

from pipelines.erasure import Erasure, ErasureContext, register_eraser
from pipelines.memory_store import MemoryStore, open_store
from pipelines.settings import Settings


class MemoryStoreMissing(RuntimeError):
    """Memories may exist but this process cannot reach them: an erasure must not claim success."""


def store_for(settings: Settings) -> MemoryStore | None:
    """The store, or None when there can be nothing in it (memory off and no store on disk)."""
    local = "://" not in settings.memory_store_uri
    if not settings.memory_enabled and local and not Path(settings.memory_store_uri).exists():
        return None
    if importlib.util.find_spec("lancedb") is None:
        raise MemoryStoreMissing("lancedb is not installed here: install the memory-store extra")
    return open_store(
        settings.memory_store_uri,
        dimensions=settings.memory_embedding_dimensions,
        read_consistency_s=0,  # an erasure counts what is there now
    )


def delete_viewer_memories(settings: Settings, owner: str, viewer_id: str) -> int:
    """One owner's viewer's memories (another owner's viewer of the same id keeps theirs)."""
    store = store_for(settings)
    if store is None:
        return 0
    count = store.count(owner=owner, viewer_id=viewer_id)
    store.delete_viewer(owner, viewer_id)
    return count


def delete_session_memories(settings: Settings, session_id: str) -> int:
    store = store_for(settings)
    if store is None:
        return 0
    count = store.count(session_id=session_id)
    store.delete_session(session_id)
    return count


def erase_memories(ctx: ErasureContext, erasure: Erasure) -> int:
    removed = 0
    if erasure.viewer_id and erasure.owner is not None:
        removed += delete_viewer_memories(ctx.settings, erasure.owner, erasure.viewer_id)
    for session_id in erasure.session_ids:
        removed += delete_session_memories(ctx.settings, session_id)
    if erasure.memories_before is not None and (store := store_for(ctx.settings)) is not None:
        before = store.count()
        store.delete_older_than(erasure.memories_before)
        removed += before - store.count()
    return removed


register_eraser("memories", erase_memories)
