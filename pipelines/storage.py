"""MongoDB collections, their indexes, and GridFS for audio blobs."""

import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any

import gridfs
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError
from pymongo.write_concern import WriteConcern

from pipelines.settings import Settings

AUDIO_BUCKET = "audio"
# A write that answers a client (a job, batch, session, key or rating it was told is stored) waits
# for the journal; progress writes do not, since a stage redone after a crash writes them again.
JOURNALED = WriteConcern(w=1, j=True)


@dataclass(frozen=True)
class StoredAudio:
    id: str
    content_type: str
    length: int
    metadata: dict[str, Any]
    filename: str = ""


class Storage:
    """The project's MongoDB database: jobs, segments, sessions, batches, feedback and audio."""

    def __init__(self, settings: Settings, *, client: MongoClient | None = None) -> None:
        self.client: MongoClient = client or MongoClient(
            settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000
        )
        self.db: Database = self.client[settings.mongo_db]
        self.jobs = self.db["jobs"]
        self.segments = self.db["segments"]
        self.sessions = self.db["sessions"]
        self.batches = self.db["batches"]
        self.batch_files = self.db["batch_files"]
        self.feedback = self.db["feedback"]
        self.api_keys = self.db["api_keys"]  # hashed client and admin keys (pipelines/api_keys.py)
        self.dead_letters = self.db["dead_letters"]  # task messages given up on (pipelines/deliveries.py)
        self.persona_prompts = self.db["persona_prompts"]  # system prompts turns were answered with
        self.audio = gridfs.GridFSBucket(self.db, bucket_name=AUDIO_BUCKET)

    def ensure_indexes(self) -> None:
        """Create indexes at start-up (idempotent)."""
        # Was a prefix of the history index below, so every job write maintained it for nothing
        # (on the embedded server each index adds about 0.3 ms to every update).
        if "session_id_1_created_at_-1" in self.jobs.index_information():
            self.jobs.drop_index("session_id_1_created_at_-1")
        self.jobs.create_index([("status", ASCENDING), ("updated_at", ASCENDING)])
        self.jobs.create_index([("owner", ASCENDING), ("status", ASCENDING)])  # jobs in flight per key
        # History pages (session, then newest first with the id as tie-break), exports, viewer erasure.
        self.jobs.create_index([("session_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)])
        self.jobs.create_index([("persona", ASCENDING), ("created_at", ASCENDING)])
        self.jobs.create_index([("viewer_id", ASCENDING)], sparse=True)
        self.jobs.create_index([("created_at", ASCENDING)])  # the retention sweep
        # One document per (job, attempt, segment): redelivered stages upsert, never duplicate.
        self.segments.create_index(
            [("job_id", ASCENDING), ("attempt", ASCENDING), ("index", ASCENDING)], unique=True
        )
        self.sessions.create_index([("created_at", DESCENDING)])
        self.batch_files.create_index([("batch_id", ASCENDING), ("index", ASCENDING)], unique=True)
        self.feedback.create_index([("job_id", ASCENDING)])
        self.feedback.create_index([("persona", ASCENDING), ("created_at", DESCENDING)])
        self.feedback.create_index([("created_at", DESCENDING)])
        # GridFS's own indexes (the spec's), made here so uploads need not check for them.
        self.db[f"{AUDIO_BUCKET}.files"].create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)])
        self.db[f"{AUDIO_BUCKET}.files"].create_index([("uploadDate", ASCENDING)])  # the retention sweep
        self.db[f"{AUDIO_BUCKET}.chunks"].create_index(
            [("files_id", ASCENDING), ("n", ASCENDING)], unique=True
        )

    @staticmethod
    def journaled(collection: Collection) -> Collection:
        """``collection`` with writes acknowledged only once in the journal (JOURNALED)."""
        return collection.with_options(write_concern=JOURNALED)

    def ping(self) -> None:
        self.client.admin.command("ping")

    # --- audio blobs ------------------------------------------------------------------------------
    def put_audio(self, data: bytes, *, filename: str, content_type: str, metadata: dict[str, Any]) -> str:
        file_id = ObjectId()
        self._upload(file_id, filename, data, {**metadata, "content_type": content_type})
        return str(file_id)

    def replace_audio(
        self, data: bytes, *, filename: str, content_type: str, metadata: dict[str, Any]
    ) -> str:
        """Store under an id derived from ``filename``, replacing an earlier copy (redelivery-safe).

        The happy path is the upload alone (chunks, then the file document): no lookup first.
        """
        file_id = name_object_id(filename)
        metadata = {**metadata, "content_type": content_type}
        try:
            self._upload(file_id, filename, data, metadata)
        except (DuplicateKeyError, gridfs.errors.FileExists):
            with contextlib.suppress(gridfs.errors.NoFile):
                self.audio.delete(file_id)
            self._upload(file_id, filename, data, metadata)
        return str(file_id)

    def _upload(self, file_id: ObjectId, filename: str, data: bytes, metadata: dict[str, Any]) -> None:
        """GridFS upload without pymongo's per-upload index check.

        Before its first chunk, every upload checks the bucket's indexes with ``find_one({})`` on
        both collections; the embedded MongoDB-protocol server answers that by scanning the whole
        collection (0.09 s at 1,200 stored clips, growing with every turn). ``ensure_indexes``
        creates the same indexes once at start-up, so the check is skipped.
        """
        with self.audio.open_upload_stream_with_id(file_id, filename, metadata=metadata) as stream:
            object.__setattr__(stream, "_ensured_index", True)  # pymongo's flag for "already checked"
            stream.write(data)

    def copy_in_format(self, info: "StoredAudio", fmt: str) -> "StoredAudio | None":
        """Another format of a stored file: linked in its metadata (``<fmt>_id``), or stored under
        the same deterministic name with the other extension (how the tts stage stores copies)."""
        linked = info.metadata.get(f"{fmt}_id")
        if linked:
            return self.audio_info(str(linked))
        stem, dot, _ = info.filename.rpartition(".")
        return self.audio_info(str(name_object_id(f"{stem}.{fmt}"))) if dot else None

    def audio_info(self, audio_id: str) -> StoredAudio | None:
        oid = parse_object_id(audio_id)
        if oid is None:
            return None
        doc = self.db[f"{AUDIO_BUCKET}.files"].find_one({"_id": oid})
        if doc is None:
            return None
        metadata = doc.get("metadata") or {}
        return StoredAudio(
            id=audio_id,
            content_type=str(metadata.get("content_type", "application/octet-stream")),
            length=int(doc["length"]),
            metadata=metadata,
            filename=str(doc.get("filename") or ""),
        )

    def read_audio(self, audio_id: str) -> bytes:
        oid = parse_object_id(audio_id)
        if oid is None:
            raise gridfs.errors.NoFile(audio_id)
        with self.audio.open_download_stream(oid) as stream:
            return stream.read()

    def open_audio(self, audio_id: str) -> gridfs.GridOut:
        oid = parse_object_id(audio_id)
        if oid is None:
            raise gridfs.errors.NoFile(audio_id)
        return self.audio.open_download_stream(oid)

    def delete_audio(self, audio_id: str) -> None:
        oid = parse_object_id(audio_id)
        if oid is not None:
            with contextlib.suppress(gridfs.errors.NoFile):
                self.audio.delete(oid)

    def close(self) -> None:
        self.client.close()


def parse_object_id(value: str) -> ObjectId | None:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def name_object_id(name: str) -> ObjectId:
    """A stable ObjectId for a deterministic file name (12 bytes of its SHA-256)."""
    return ObjectId(hashlib.sha256(name.encode()).digest()[:12])


def update_and_read(
    collection: Collection, query: dict[str, Any], update: dict[str, Any], *, upsert: bool = False
) -> dict[str, Any] | None:
    """Apply one atomic update, then read the document back; None when ``query`` matched nothing.

    Used instead of ``find_one_and_update``, which the embedded MongoDB-protocol server answers by
    scanning the collection (measured: 2 ms on an empty one, 22 ms at 1,600 documents, so every
    turn got slower as history grew), while ``update_one`` and a find by ``_id`` stay at about a
    millisecond. Callers rely only on their own update having happened: a matched ``query`` is
    what makes a caller the one that changed the document (its conditions are the fence), and the
    read shows that change plus any that landed after it.
    """
    result = collection.update_one(query, update, upsert=upsert)
    if result.matched_count == 0 and result.upserted_id is None:
        return None
    key = result.upserted_id if result.upserted_id is not None else query["_id"]
    found: dict[str, Any] | None = collection.find_one({"_id": key})
    return found
