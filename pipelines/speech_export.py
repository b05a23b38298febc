"""A speech dataset: a JSONL manifest (audio file, transcript, language, duration) with the audio
beside it, from viewers' utterances and finished batch transcriptions.

Read from MongoDB cursors and written one clip at a time: to a directory (the CLI) or as a tar
stream (the API) whose manifest, spooled to a temporary file meanwhile, is its last member.
"""

import io
import json
import re
import shutil
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gridfs

from pipelines.chat_export import TurnFilter
from pipelines.storage import Storage
from schemas.batches import FileStatus
from schemas.jobs import JobKind

MANIFEST = "manifest.jsonl"
SOURCES = ("utterances", "batches")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class Clip:
    audio_id: str
    name: str  # the file's path inside the dataset, e.g. audio/utterance-<job id>.wav
    entry: dict[str, Any]  # its manifest line


def clips(storage: Storage, turns: TurnFilter, sources: tuple[str, ...] = SOURCES) -> Iterator[Clip]:
    """Every transcribed clip matching the filter (a persona filter leaves batches out: they have none)."""
    if "utterances" in sources:
        query = {**turns.jobs_query((JobKind.audio.value,)), "transcript": {"$ne": None}}
        query["input_audio_id"] = {"$ne": None}
        for job in storage.jobs.find(query).sort("created_at", 1).batch_size(200):
            transcript = job["transcript"]
            yield clip(
                storage, job["input_audio_id"], f"utterance-{job['_id']}", transcript, "utterance", job["_id"]
            )
    if "batches" in sources and turns.persona is None:
        query = {"status": FileStatus.completed.value, "transcript": {"$ne": None}}
        finished = TurnFilter(since=turns.since, until=turns.until).jobs_query(())
        if "created_at" in finished:
            query["finished_at"] = finished["created_at"]
        for doc in storage.batch_files.find(query).sort("finished_at", 1).batch_size(200):
            yield clip(
                storage, doc["audio_id"], f"batch-{doc['_id']}", doc["transcript"], "batch", doc["_id"]
            )


def clip(
    storage: Storage, audio_id: str, stem: str, transcript: dict[str, Any], source: str, source_id: str
) -> Clip:
    info = storage.audio_info(audio_id)
    metadata = info.metadata if info else {}
    extension = _UNSAFE.sub("", str(metadata.get("format") or "bin")) or "bin"
    name = f"audio/{_UNSAFE.sub('-', stem)}.{extension}"
    duration = transcript.get("duration_s") or metadata.get("duration_s")
    entry = {
        "audio_filepath": name,
        "text": (transcript.get("text") or "").strip(),
        "language": transcript.get("language"),
        "duration": round(float(duration), 3) if duration else None,
        "source": source,
        "id": source_id,
    }
    return Clip(audio_id=audio_id, name=name, entry=entry)


def write_dataset(
    storage: Storage, turns: TurnFilter, directory: Path, sources: tuple[str, ...] = SOURCES
) -> Counter[str]:
    """manifest.jsonl and audio/ in ``directory``; how many clips were written and skipped."""
    stats: Counter[str] = Counter()
    (directory / "audio").mkdir(parents=True, exist_ok=True)
    with (directory / MANIFEST).open("w", encoding="utf-8") as manifest:
        for item in clips(storage, turns, sources):
            try:
                with storage.open_audio(item.audio_id) as audio, (directory / item.name).open("wb") as out:
                    shutil.copyfileobj(audio, out)
            except gridfs.errors.NoFile:
                stats["skipped_no_audio"] += 1  # its audio outlived its retention period
                continue
            manifest.write(json.dumps(item.entry, ensure_ascii=False) + "\n")
            stats["written"] += 1
    return stats


class _Drain(io.RawIOBase):
    """Where tarfile writes in stream mode: the bytes wait here until the generator yields them."""

    def __init__(self) -> None:
        self.pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.pending += data
        return len(data)

    def take(self) -> bytes:
        data, self.pending = bytes(self.pending), bytearray()
        return data


def tar_stream(storage: Storage, turns: TurnFilter, sources: tuple[str, ...] = SOURCES) -> Iterator[bytes]:
    """The dataset as a tar, yielded a clip at a time: audio/... then manifest.jsonl."""
    drain = _Drain()
    with tempfile.TemporaryFile("w+b") as manifest, tarfile.open(fileobj=drain, mode="w|") as tar:
        for item in clips(storage, turns, sources):
            try:
                audio = storage.open_audio(item.audio_id)
            except gridfs.errors.NoFile:
                continue
            with audio:
                member = tarfile.TarInfo(item.name)
                member.size = audio.length
                member.mtime = int(audio.upload_date.timestamp())
                tar.addfile(member, audio)
            manifest.write((json.dumps(item.entry, ensure_ascii=False) + "\n").encode())
            yield drain.take()
        member = tarfile.TarInfo(MANIFEST)
        member.size = manifest.tell()
        manifest.seek(0)
        tar.addfile(member, manifest)
        yield drain.take()
    yield drain.take()  # the end-of-archive blocks written on close
