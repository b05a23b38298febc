"""Long-term memory recall on the live path: filtered top-k at 100k stored memories.

The LLM stage asks the store for one viewer's memories under one persona, nearest to the viewer's
line, before the first token: the budget is 30 ms p95 (first audio must not move). This fills an
embedded LanceDB store (pipelines/memory_store.py) with 100k memories of 10k viewers (unit 384-d
vectors, the all-MiniLM-L6-v2 width), then measures, each over random viewers:

- the store's filtered vector query (the scope BTREE index, as the memory worker keeps it);
- the same without the scalar index (a fresh append nobody has indexed yet: the worst case);
- the newest-first query used while the embedding model is still loading;
- the recall message as the LLM stage builds it (query + budgeted formatting);
- embedding one viewer line with the bundled model (the rest of the recall's cost).

``python -m bench.bench_memory [--memories 100000] [--queries 300]``; writes docs/memory_bench.md.
"""

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from pipelines.memory_recall import MemoryRecall
from pipelines.memory_store import MemoryStore, memory_id, scope_of
from pipelines.settings import PROJECT_ROOT, Settings

DIMENSIONS = 384
PER_VIEWER = 10
OWNER = "bench-key"
BUDGET_P95_MS = 30.0
REPORT = PROJECT_ROOT / "docs" / "memory_bench.md"


def fill(store: MemoryStore, memories: int, rng: np.random.Generator) -> int:
    """Bulk-load ``memories`` rows (``table.add`` in batches: the bench's shortcut, the worker upserts)."""
    import pyarrow as pa

    viewers = max(1, memories // PER_VIEWER)
    batch = 20_000
    now = datetime.now(UTC)
    for start in range(0, memories, batch):
        count = min(batch, memories - start)
        vectors = rng.standard_normal((count, DIMENSIONS)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        viewer_ids = [f"viewer-{(start + i) % viewers}" for i in range(count)]
        keys = [f"fact:{start + i}" for i in range(count)]
        table = pa.table(
            {
                "id": [memory_id(OWNER, "hana", v, k) for v, k in zip(viewer_ids, keys, strict=True)],
                "scope": [scope_of(OWNER, "hana", v) for v in viewer_ids],
                "owner": [OWNER] * count,
                "viewer_id": viewer_ids,
                "persona": ["hana"] * count,
                "session_id": [f"session-{(start + i) % 5000}" for i in range(count)],
                "kind": ["fact"] * count,
                "key": keys,
                "text": [f"They have a pet number {start + i}." for i in range(count)],
                "job_id": [f"job-{start + i}" for i in range(count)],
                "updated_at": pa.array([now] * count, type=pa.timestamp("us", tz="UTC")),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), DIMENSIONS),
            },
            schema=store.table.schema,
        )
        store.table.add(table)
    return viewers


def timed(run: Callable[[], object], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"| {name} | {len(samples)} | {statistics.median(samples):.2f} | {p95:.2f} | {max(samples):.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--no-report", action="store_true", help="print only, do not write docs/")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    rows: list[str] = []
    p95s: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as directory:
        store = MemoryStore(str(Path(directory) / "memory"), dimensions=DIMENSIONS, read_consistency_s=1.0)
        started = time.perf_counter()
        viewers = fill(store, args.memories, rng)
        load_s = time.perf_counter() - started

        def query_vector() -> np.ndarray:
            vector = rng.standard_normal(DIMENSIONS).astype(np.float32)
            return vector / np.linalg.norm(vector)

        def viewer() -> str:
            return f"viewer-{int(rng.integers(viewers))}"

        def measure(name: str, run: Callable[[], object], times: int) -> None:
            timed(run, 5)  # warm caches and the index
            samples = timed(run, times)
            rows.append(summary(name, samples))
            p95s[name] = sorted(samples)[round(0.95 * (len(samples) - 1))]

        unindexed = "filtered top-8, no scalar index (fresh rows)"
        measure(
            unindexed,
            lambda: store.search(OWNER, "hana", viewer(), query_vector(), limit=8),
            max(20, args.queries // 10),
        )
        started = time.perf_counter()
        store.optimize(keep_versions_s=0)  # what the memory worker's beat task does: index the new rows
        optimize_s = time.perf_counter() - started
        indexed = "filtered top-8, scope BTREE index"
        measure(indexed, lambda: store.search(OWNER, "hana", viewer(), query_vector(), limit=8), args.queries)
        measure(
            "newest first (no vector), index",
            lambda: store.search(OWNER, "hana", viewer(), None, limit=8),
            args.queries,
        )
        asking = {"_id": "j", "owner": OWNER, "persona": "hana", "session_id": "now"}

        def tokens(text: str) -> int:
            return len(text) // 4 + 1

        within = MemoryRecall(store=lambda: store, embedder=lambda: None, limit=PER_VIEWER, token_budget=160)
        measure(
            f"recall message, viewer within the limit ({PER_VIEWER}): no embedding",
            lambda: within.message_for({**asking, "viewer_id": viewer()}, "hi", tokens),
            args.queries,
        )
        try:
            from workers.embedding import SentenceEmbedder

            embedder = SentenceEmbedder(Settings())
        except ImportError as exc:
            rows.append(f"| embedding | skipped: {exc} | | | |")
        else:
            line = "what was my dog called again?"
            measure("embed one viewer line (MiniLM, 1 thread)", lambda: embedder.embed([line]), 100)
            beyond = MemoryRecall(
                store=lambda: store, embedder=lambda: embedder, limit=PER_VIEWER - 2, token_budget=160
            )
            measure(
                f"recall message, viewer beyond the limit ({PER_VIEWER - 2}): embed + vector query",
                lambda: beyond.message_for({**asking, "viewer_id": viewer()}, line, tokens),
                100,
            )
    verdict = "meets" if p95s[indexed] <= BUDGET_P95_MS else "MISSES"
    lines = [
        "# Long-term memory recall (bench/bench_memory.py)",
        "",
        f"Embedded LanceDB, {args.memories:,} memories of {viewers:,} viewers ({PER_VIEWER} each), "
        f"384-d unit vectors; loaded in {load_s:.1f} s, optimized (compaction + scalar indexes) in "
        f"{optimize_s:.1f} s. Milliseconds per call on this machine ({datetime.now(UTC):%Y-%m-%d}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end: shared with other work).",
        "",
        "| what | calls | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"The indexed filtered query {verdict} the live path's budget ({BUDGET_P95_MS:.0f} ms p95). "
        "For comparison, ../shared/MODELS.md measured qdrant-client's local mode (in-process, brute "
        "force in Python) at 316 ms per filtered query with only 20k points, and the Qdrant server "
        "cannot run here. Rows appended since the last optimize are read without the index, which is "
        "why the memory worker's beat task (memory.optimize_store, every "
        "VTUBER_MEMORY_OPTIMIZE_INTERVAL_S) keeps them few. Ranking by similarity a viewer with more "
        "memories than the recall limit also costs embedding their line (the last rows): on busy "
        "shared cores that alone exceeds the budget, so VTUBER_MEMORY_RECALL_BY_SIMILARITY is off by "
        "default (facts, then the newest summaries) and meant for an LLM host with spare cores.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_report:
        REPORT.write_text(text)


if __name__ == "__main__":
    main()
