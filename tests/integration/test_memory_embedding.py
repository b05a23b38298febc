"""The embedding on the live path: the ONNX export of the bundled all-MiniLM-L6-v2 gives the vectors
sentence-transformers gives, and a line that takes too long to embed leaves the recall in the
store's order instead of holding the turn; the store's unindexed tail is brought into the index."""

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pipelines.backends import TextEmbedder
from pipelines.memory_recall import BackgroundEmbedder, MemoryRecall
from pipelines.memory_store import Memory, MemoryStore, nearest
from pipelines.settings import Settings
from workers.embedding import ExportMissing, OnnxEmbedder, SentenceEmbedder, load_embedder

LINES = [
    "hi",
    "what was my dog called again?",
    "My name is Alice. I have a dog named Biscuit and my favourite game is Hollow Knight.",
    "제 이름은 민지예요",
    "好きなゲームはマリオです",
]


def test_the_onnx_embedder_gives_the_sentence_transformers_vectors() -> None:
    onnx, torch = load_embedder(Settings()), SentenceEmbedder(Settings())
    assert isinstance(onnx, OnnxEmbedder)
    together = onnx.embed(LINES)  # padded to the longest line in one batch
    reference = torch.embed(LINES)
    assert together.shape == (len(LINES), 384) and together.dtype == np.float32
    assert np.all(np.sum(together * reference, axis=1) > 0.9999)
    one_by_one = np.vstack([onnx.embed([line]) for line in LINES])
    assert np.allclose(one_by_one, together, atol=1e-5)  # padding changes nothing


class BlockedEmbedder:
    """An embedder whose line never finishes before the recall gives up on it."""

    name = "blocked"
    dimensions = 384

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        assert self.release.wait(60), "the test never released the embedder"
        return np.ones((len(texts), self.dimensions), dtype=np.float32) / np.sqrt(self.dimensions)


def fact(slot: str, text: str) -> Memory:
    vector = np.zeros(384, dtype=np.float32)
    vector[len(slot) % 384] = 1.0
    return Memory("key-a", "alice", "hana", "s1", "fact", slot, text, "j", vector)


def test_a_line_that_takes_too_long_to_embed_leaves_the_store_order(tmp_path: Path) -> None:
    store = MemoryStore(str(tmp_path / "memory"), dimensions=384, read_consistency_s=0)
    store.upsert([fact(f"slot-{n}", f"Fact number {n}.") for n in range(4)])
    blocked = BlockedEmbedder()
    recall = MemoryRecall(
        store=lambda: store, embedder=lambda: blocked, limit=2, token_budget=200, embed_timeout_s=0.05
    )
    job = {"_id": "j", "owner": "key-a", "persona": "hana", "session_id": "s2", "viewer_id": "alice"}
    try:
        message = recall.message_for(job, "tell me about me", lambda text: len(text) // 4 + 1)
    finally:
        blocked.release.set()
    assert blocked.calls == 1  # it was asked, and the turn did not wait for it
    assert message is not None and len(message.content.splitlines()) == 1 + 2  # the header and 2 facts
    # Within the limit the turn never needs the vector at all.
    roomy = MemoryRecall(store=lambda: store, embedder=lambda: blocked, limit=8, token_budget=200)
    message = roomy.message_for(job, "tell me about me", lambda text: len(text) // 4 + 1)
    assert message is not None and len(message.content.splitlines()) == 1 + 4
    assert blocked.calls == 1  # nothing to rank: the line was not embedded at all


def test_ranking_fetched_memories_here_agrees_with_the_store_s_vector_search(tmp_path: Path) -> None:
    store = MemoryStore(str(tmp_path / "memory"), dimensions=384, read_consistency_s=0)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((40, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.upsert(
        [
            Memory("key-a", "alice", "hana", "s1", "fact", f"slot-{n}", f"Fact {n}.", "j", v)
            for n, v in enumerate(vectors)
        ]
    )
    fetched = store.viewer_memories("key-a", "hana", "alice", cap=100)
    assert len(fetched) == 40 and all(m.vector is not None for m in fetched)
    for query in rng.standard_normal((5, 384)).astype(np.float32):
        query /= np.linalg.norm(query)
        ours = nearest(fetched, query, limit=6)
        assert all(m.distance is not None for m in ours)
        theirs = store.search("key-a", "hana", "alice", query, limit=6)
        assert [m.key for m in ours] == [m.key for m in theirs]
        assert np.allclose([m.distance or 0.0 for m in ours], [m.distance or 0.0 for m in theirs], atol=1e-4)


def test_optimize_if_behind_brings_the_tail_into_the_index(tmp_path: Path) -> None:
    store = MemoryStore(str(tmp_path / "memory"), dimensions=384, read_consistency_s=0)
    for n in range(3):
        store.upsert([fact(f"slot-{n}", f"Fact {n}.")])
    assert store.unindexed_rows() == 3
    assert store.optimize_if_behind(max_unindexed_rows=3, keep_versions_s=3600) is False
    assert store.unindexed_rows() == 3
    assert store.optimize_if_behind(max_unindexed_rows=2, keep_versions_s=3600) is True
    assert store.unindexed_rows() == 0
    assert sorted(m.text for m in store.search("key-a", "hana", "alice", None, limit=9)) == [
        "Fact 0.",
        "Fact 1.",
        "Fact 2.",
    ]


def test_a_store_written_before_owners_opens_with_an_owner_column(tmp_path: Path) -> None:
    import lancedb
    import pyarrow as pa

    uri = str(tmp_path / "memory")
    text = ("scope", "viewer_id", "persona", "session_id", "kind", "key", "text", "job_id")
    old = pa.schema(
        [
            ("id", pa.string()),
            *((name, pa.string()) for name in text),
            ("updated_at", pa.timestamp("us", tz="UTC")),
            ("vector", pa.list_(pa.float32(), 384)),
        ]
    )
    row = {name: "a" for name in text} | {"id": "1", "scope": "hana\x1fa", "vector": [0.0] * 384}
    lancedb.connect(uri).create_table("memories", schema=old).add([row])
    store = MemoryStore(uri, dimensions=384, read_consistency_s=0)
    assert "owner" in store.table.schema.names
    assert store.count(owner="", viewer_id="a") == 1  # it belongs to no key: no recall reaches it
    store.upsert([fact("slot", "New.")])  # and the store takes new rows
    assert [m.text for m in store.search("key-a", "hana", "alice", None, limit=5)] == ["New."]


def test_the_llm_worker_never_exports_and_tries_the_export_again_later(tmp_path: Path) -> None:
    empty_cache = Settings(model_cache_dir=tmp_path / "cache")
    with pytest.raises(ExportMissing):
        load_embedder(empty_cache, may_export=False)  # no torch beside llama.cpp
    assert not (tmp_path / "cache").exists()
    attempts: list[int] = []

    def load() -> TextEmbedder:
        attempts.append(1)
        if len(attempts) == 1:
            raise ExportMissing("not yet")
        return load_embedder(Settings(), may_export=False)  # the export the memory worker made

    background = BackgroundEmbedder(load, retry_after_s=0)
    deadline = time.monotonic() + 60
    loaded = background.get()
    while loaded is None and time.monotonic() < deadline:
        time.sleep(0.05)
        loaded = background.get()
    assert isinstance(loaded, OnnxEmbedder), f"never loaded after {len(attempts)} attempts"
    assert len(attempts) == 2  # and none once loaded
    background.get()
    assert len(attempts) == 2
