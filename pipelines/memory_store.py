"""Long-term memories in LanceDB: one row per remembered fact or session summary, with its vector.

Why LanceDB: it runs embedded (a directory, no server, like the rest of the default stack) and the
same code scales out on an object store (``s3://``, ``gs://``, ``az://``) shared by every worker in
production. A recall is a vector search pre-filtered on the scope (owner + persona + viewer)
through a BTREE scalar index, so it reads only that viewer's rows: bench/bench_memory.py measures
it at 100k memories against the 30 ms budget of the live path, and qdrant-client's local mode for
comparison.

Viewer ids are the tenant's own names ("alice" on one streamer's chat is not "alice" on another's):
every row carries its ``owner`` (the API key that submitted the turn), which is part of its scope
and its id, so two owners' viewers never share, overwrite or erase each other's memories.

Rows appended since the last ``optimize`` are outside the scalar index, and each write appends a
fragment the filter must open: a query's cost grows with the writes since then (about 0.1 ms each
at 100k rows, bench/bench_memory.py). ``unindexed_rows`` lets the writer optimize after a few
dozen writes instead of only on a timer.

Rows are keyed by a deterministic id (the owner, viewer, persona and what the row is about), and
written with merge-insert on that id: a redelivered task rewrites the same rows, never adds a
second copy, and a fact stated again (a new favourite game) replaces the old one.
"""

import hashlib
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lancedb.table import Table

TABLE = "memories"
INDEXED_COLUMNS = ("scope", "viewer_id", "session_id")
SCOPE_INDEX = "scope_idx"  # LanceDB's name for the index on ``scope``


def scope_of(owner: str, persona: str, viewer_id: str) -> str:
    """Memory is per owner, viewer and persona: one column to filter on, with an index of its own."""
    return f"{owner}\x1f{persona}\x1f{viewer_id}"


def memory_owner(job: dict[str, Any]) -> str:
    """Whose viewer a turn's ``viewer_id`` names: the API key that submitted the turn."""
    return str(job.get("owner") or "")


def memory_id(owner: str, persona: str, viewer_id: str, key: str) -> str:
    return hashlib.sha256(f"{owner}\x1f{persona}\x1f{viewer_id}\x1f{key}".encode()).hexdigest()[:32]


def sql_string(value: str) -> str:
    """A string literal for a LanceDB filter (DataFusion SQL): quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Memory:
    """A row to store: ``key`` says what it is about (a fact's slot, ``summary:<session>``);
    ``owner``: the API key whose turn taught it."""

    owner: str
    viewer_id: str
    persona: str
    session_id: str
    kind: str  # "fact" | "summary"
    key: str
    text: str
    job_id: str
    vector: np.ndarray


@dataclass(frozen=True)
class Recalled:
    kind: str
    key: str
    text: str
    session_id: str
    updated_at: datetime
    distance: float | None  # squared L2 to the query (LanceDB's default metric); None: no query
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)


class MemoryStore:
    """``uri``: a directory or an object-store URI; ``read_consistency_s``: how stale a reader's
    view of other processes' writes may be (0: check on every read)."""

    def __init__(self, uri: str, *, dimensions: int, read_consistency_s: float = 1.0) -> None:
        import lancedb  # the API process and workers without memory never load it
        import pyarrow as pa

        self.uri = uri
        self.dimensions = dimensions
        self.db = lancedb.connect(uri, read_consistency_interval=timedelta(seconds=read_consistency_s))
        schema = pa.schema(
            [
                ("id", pa.string()),
                ("scope", pa.string()),
                ("owner", pa.string()),
                ("viewer_id", pa.string()),
                ("persona", pa.string()),
                ("session_id", pa.string()),
                ("kind", pa.string()),
                ("key", pa.string()),
                ("text", pa.string()),
                ("job_id", pa.string()),
                ("updated_at", pa.timestamp("us", tz="UTC")),
                ("vector", pa.list_(pa.float32(), dimensions)),
            ]
        )
        try:
            self.table: Table = self.db.open_table(TABLE)
        except ValueError:  # not there yet (exist_ok: another process may create it meanwhile)
            self.table = self.db.create_table(TABLE, schema=schema, exist_ok=True)
        if "owner" not in self.table.schema.names:
            # A store written before memories had owners: its rows belong to no owner (no recall
            # reaches them; session erasure and retention still do).
            self.table.add_columns({"owner": "''"})
        self._ensure_indexes()

    def _ensure_indexes(self) -> None:
        from lancedb.index import BTree

        present = {column for index in self.table.list_indices() for column in index.columns}
        for column in INDEXED_COLUMNS:
            if column not in present:
                self.table.create_index(column, config=BTree(), replace=False)

    def upsert(self, memories: list[Memory]) -> None:
        """Insert or replace by id (idempotent)."""
        if not memories:
            return
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = [
            {
                "id": memory_id(m.owner, m.persona, m.viewer_id, m.key),
                "scope": scope_of(m.owner, m.persona, m.viewer_id),
                "owner": m.owner,
                "viewer_id": m.viewer_id,
                "persona": m.persona,
                "session_id": m.session_id,
                "kind": m.kind,
                "key": m.key,
                "text": m.text,
                "job_id": m.job_id,
                "updated_at": now,
                "vector": np.asarray(m.vector, dtype=np.float32),
            }
            for m in memories
        ]
        self.table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(rows)

    def search(
        self, owner: str, persona: str, viewer_id: str, vector: np.ndarray | None, *, limit: int
    ) -> list[Recalled]:
        """The owner's viewer's memories for this persona: nearest to ``vector`` first, or
        without a vector the facts (a few, one per slot) and then the newest summaries."""
        where = f"scope = {sql_string(scope_of(owner, persona, viewer_id))}"
        if vector is None:
            return self.viewer_memories(owner, persona, viewer_id, cap=10_000)[:limit]
        query = self.table.search(np.asarray(vector, dtype=np.float32)).where(where, prefilter=True)
        rows = query.select([*RECALLED_COLUMNS, "_distance"]).limit(limit).to_list()
        return [recalled(row) for row in rows]

    def viewer_memories(self, owner: str, persona: str, viewer_id: str, *, cap: int) -> list[Recalled]:
        """Up to ``cap`` of the viewer's memories with their vectors, in the store's order: facts,
        then the newest summaries. One query; ``nearest`` ranks them without another."""
        where = f"scope = {sql_string(scope_of(owner, persona, viewer_id))}"
        rows = self.table.search().where(where).select([*RECALLED_COLUMNS, "vector"]).limit(cap).to_list()
        rows.sort(key=lambda row: row["updated_at"], reverse=True)
        rows.sort(key=lambda row: row["kind"] != "fact")  # stable: newest first within each kind
        return [recalled(row) for row in rows]

    @staticmethod
    def _viewer_filter(owner: str, viewer_id: str) -> str:
        return f"viewer_id = {sql_string(viewer_id)} AND owner = {sql_string(owner)}"

    def count(
        self, *, owner: str | None = None, viewer_id: str | None = None, session_id: str | None = None
    ) -> int:
        """All rows, an owner's viewer's (both given), or a session's."""
        if viewer_id is not None and owner is not None:
            return self.table.count_rows(self._viewer_filter(owner, viewer_id))
        if session_id is not None:
            return self.table.count_rows(f"session_id = {sql_string(session_id)}")
        return self.table.count_rows()

    def delete_viewer(self, owner: str, viewer_id: str) -> None:
        """Everything remembered about one owner's viewer, under every persona."""
        self.table.delete(self._viewer_filter(owner, viewer_id))

    def delete_session(self, session_id: str) -> None:
        """What was learnt in a session: its summary and the facts last stated in it."""
        self.table.delete(f"session_id = {sql_string(session_id)}")

    def delete_older_than(self, before: datetime) -> None:
        """Retention: memories not restated since ``before``."""
        self.table.delete(f"updated_at < timestamp '{before.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')}'")

    def unindexed_rows(self) -> int:
        """Rows written since the scope index was last brought up to date (each a flat scan)."""
        stats = self.table.index_stats(SCOPE_INDEX)
        return 0 if stats is None else int(stats.num_unindexed_rows)

    def optimize(self, *, keep_versions_s: float, attempts: int = 3) -> None:
        """Compact small appends, bring new rows into the indexes, and drop old versions (which
        still hold deleted memories) older than ``keep_versions_s``.

        From the latest version, and again when a write from another process commits first
        (LanceDB lets the write win and asks the compaction to retry)."""
        for attempt in range(1, attempts + 1):
            try:
                self.table.checkout_latest()
                self.table.optimize(cleanup_older_than=timedelta(seconds=keep_versions_s))
                return
            except RuntimeError as exc:
                if "Retryable commit conflict" not in str(exc) or attempt == attempts:
                    raise

    def optimize_if_behind(self, *, max_unindexed_rows: int, keep_versions_s: float) -> bool:
        """Optimize when more than ``max_unindexed_rows`` rows are outside the index (the writer
        calls this after each write, so recall never scans more than a small tail)."""
        if self.unindexed_rows() <= max_unindexed_rows:
            return False
        self.optimize(keep_versions_s=keep_versions_s)
        return True


RECALLED_COLUMNS = ["kind", "key", "text", "session_id", "updated_at"]


def recalled(row: dict[str, Any]) -> Recalled:
    vector = row.get("vector")
    return Recalled(
        kind=row["kind"],
        key=row["key"],
        text=row["text"],
        session_id=row["session_id"],
        updated_at=row["updated_at"],
        distance=row.get("_distance"),
        vector=None if vector is None else np.asarray(vector, dtype=np.float32),
    )


def nearest(memories: list[Recalled], vector: np.ndarray, *, limit: int) -> list[Recalled]:
    """The ``limit`` memories nearest to ``vector`` (squared L2, as LanceDB ranks), from rows that
    carry their vectors: a few hundred dot products, no second query."""
    with_vectors = [m for m in memories if m.vector is not None]
    if not with_vectors:
        return []
    matrix = np.stack([m.vector for m in with_vectors if m.vector is not None])
    distances = np.sum((matrix - np.asarray(vector, dtype=np.float32)) ** 2, axis=1)
    order = np.argsort(distances, kind="stable")[:limit]
    return [replace(with_vectors[i], distance=float(distances[i])) for i in order]


_stores: dict[tuple[str, int, float], MemoryStore] = {}
_stores_lock = threading.Lock()


def open_store(uri: str, *, dimensions: int, read_consistency_s: float) -> MemoryStore:
    """One store per process and location (opening a table reads its manifest)."""
    key = (uri, dimensions, read_consistency_s)
    with _stores_lock:
        if key not in _stores:
            _stores[key] = MemoryStore(uri, dimensions=dimensions, read_consistency_s=read_consistency_s)
        return _stores[key]


def forget_open_stores() -> None:
    """After a fork: a child opens its own."""
    with _stores_lock:
        _stores.clear()
