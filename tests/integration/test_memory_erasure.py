"""Erasing a session or a viewer erases their long-term memories (pipelines/memory_erasure.py),
through the eraser registered with pipelines/erasure.py."""

from pathlib import Path

import pytest

from pipelines.backends import TextEmbedder
from pipelines.erasure import Erasure, ErasureContext, registered_erasers
from pipelines.memory_distill import distill_turn
from pipelines.memory_store import MemoryStore
from pipelines.settings import Settings
from pipelines.stages.context import StageContext
from tests.integration.test_memory import ALICE_SAYS, BOB_SAYS, OWNER, finished_turn, remembered
from workers.embedding import OnnxEmbedder, load_embedder


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    """What the workers run: the bundled model through onnxruntime."""
    loaded = load_embedder(Settings())
    assert isinstance(loaded, OnnxEmbedder)
    return loaded


@pytest.fixture
def context(stage_context: StageContext, tmp_path: Path) -> StageContext:
    # The registered eraser opens the store these settings name: the one the test fills.
    uri = str(tmp_path / "memory")
    stage_context.settings = stage_context.settings.model_copy(update={"memory_store_uri": uri})
    return stage_context


@pytest.fixture
def store(context: StageContext) -> MemoryStore:
    return MemoryStore(context.settings.memory_store_uri, dimensions=384, read_consistency_s=0)


def test_erasing_a_session_or_a_viewer_erases_their_memories(
    context: StageContext, store: MemoryStore, embedder: TextEmbedder
) -> None:
    for session_id, viewer_id, text in [
        ("stream-1", "alice", ALICE_SAYS),
        ("stream-2", "alice", "my favourite food is ramen"),
        ("stream-1", "bob", BOB_SAYS),
    ]:
        distill_turn(
            context.storage,
            store,
            embedder,
            finished_turn(context, session_id, viewer_id, text),
            summary_lines=4,
        )
    erase = registered_erasers()["memories"]
    erasure = ErasureContext(context.storage, context.events.client, context.settings)
    assert erase(erasure, Erasure(session_ids=("stream-2",))) == 2  # the ramen fact and its summary
    assert "Their favourite food is ramen." not in remembered(store, "alice")
    assert "Their name is Alice." in remembered(store, "alice")
    assert erase(erasure, Erasure(viewer_id="alice", owner=OWNER)) == 4
    assert remembered(store, "alice") == [] and len(remembered(store, "bob")) == 4
    assert erase(erasure, Erasure(session_ids=("stream-1",))) == 4
    assert store.count() == 0
