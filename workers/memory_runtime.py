"""Per-process long-term memory pieces: the store, the embedder, and the recall the LLM stage uses.

The memory worker loads the embedder on its first task. The LLM worker needs it only with
``memory_recall_by_similarity``, and then loads it in the background on the first turn with a
viewer (pipelines/memory_recall.py), from the ONNX export the memory worker made (it never runs
torch or an export beside llama.cpp): until then, or in an image without onnxruntime, it recalls
facts and the newest summaries, so no turn waits for a model load. Both run the model through
onnxruntime (workers/embedding.py), so stored and query vectors match.
"""

import importlib.util
from functools import lru_cache

from celery.signals import worker_process_init

from pipelines.backends import TextEmbedder
from pipelines.memory_recall import BackgroundEmbedder, MemoryRecall
from pipelines.memory_store import MemoryStore, forget_open_stores, open_store
from workers.runtime import settings


def memory_store() -> MemoryStore:
    config = settings()
    return open_store(
        config.memory_store_uri,
        dimensions=config.memory_embedding_dimensions,
        read_consistency_s=config.memory_read_consistency_s,
    )


@lru_cache
def memory_embedder() -> TextEmbedder:
    from workers.embedding import load_embedder

    return load_embedder(settings())


def query_embedder() -> TextEmbedder:
    """The LLM worker's: an existing ONNX export only (the memory worker makes it on its first
    task), so neither torch nor an export ever runs beside llama.cpp."""
    from workers.embedding import load_embedder

    return load_embedder(settings(), may_export=False)


@lru_cache
def background_embedder() -> BackgroundEmbedder:
    return BackgroundEmbedder(query_embedder)


def memory_recall() -> MemoryRecall | None:
    """The LLM stage's recall, or None when memory is off or the store's library is missing."""
    config = settings()
    if not config.memory_enabled or importlib.util.find_spec("lancedb") is None:
        return None
    by_similarity = config.memory_recall_by_similarity and importlib.util.find_spec("onnxruntime")
    return MemoryRecall(
        store=memory_store,
        embedder=background_embedder().get if by_similarity else lambda: None,
        limit=config.memory_recall_limit,
        token_budget=config.memory_token_budget,
        embed_timeout_s=config.memory_embed_timeout_ms / 1000,
    )


@worker_process_init.connect
def _fresh_after_fork(**_: object) -> None:
    forget_open_stores()
    memory_embedder.cache_clear()
    background_embedder.cache_clear()
