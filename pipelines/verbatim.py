"""Verbatim lines: text the avatar says as written, tts → animation with no LLM.

Kind ``speak`` is a line said in a session (``POST /v1/sessions/{id}/speak``); kind ``animation``
is the same without a session (``POST /v1/animation``, for clients that pre-bake lines).

**Where the line is cut.** At submit, in the API process: cutting is pure text (the persona's tag
vocabulary, the sentence segmenter, the speakable-text filter), microseconds and no model, so a
task hop would only put a queue wait in front of the first tts task and a second place where the
job can be lost. The job is stored already holding its final reply (``reply.done``, LLM attempt 1,
``segments_total``) and its segments, so from there on it *is* a reply: the tts and animation
stages, completion, follow-ups and the sweep treat it like any other, and no ``llm.reply`` task is
ever sent for it (the llm queue never sees it).

**Order within a session.** Turns are not sequenced by a lock today: a turn's first task enters its
queue when it is submitted, the FIFO queues keep turns in that order, and a chat turn's segments
reach the tts queue only as its model writes them. A line whose tts tasks were sent at once would
overtake a turn still in its llm stage, so a line is **held** (``held: true``, status queued) while
an earlier unfinished turn of its session has no final reply yet, or an earlier line is still held.
It is released (its tts tasks sent, FIFO behind the earlier turn's segments) by whichever comes
last: the submit itself, the llm stage right after a reply became final, a job's end (completed,
failed, interrupted: pipelines/followups.py) or the sweep. Each side writes its own state before
it checks the other's, and the release is a compare-and-set, so a line is sent once and never
forgotten. ``interrupt: true`` cuts the earlier turns off first instead (like an utterance).
"""

from typing import Any

import redis

from pipelines.dispatch import Dispatcher
from pipelines.errors import StageError
from pipelines.events import EventLog
from pipelines.job_views import segment_out
from pipelines.jobs import ACTIVE, create_job, new_id, utcnow
from pipelines.reply_stream import ReplyStreamer
from pipelines.segments import put_segment
from pipelines.settings import Settings
from pipelines.storage import Storage, update_and_read
from pipelines.submission import fail_unqueued
from schemas.emotion import TaggedSegment
from schemas.errors import ErrorCode
from schemas.events import EventType
from schemas.jobs import JobKind, JobStatus, Stage
from schemas.persona import Persona

HELD_LINES_TTL_S = 7 * 24 * 3600


def held_lines_marker(session_id: str) -> str:
    """Set in Redis before a session's first line is stored: only then can it have held lines, so
    the turns of the (many) sessions that never use verbatim lines skip the query for them. A
    marker lost with Redis delays a held line until the sweep releases it, never forever."""
    return f"session:{session_id}:held_lines"


def may_hold_lines(client: redis.Redis, session_id: str | None) -> bool:
    return session_id is not None and bool(client.exists(held_lines_marker(session_id)))


# The one "LLM attempt" of a line: segments are keyed and fenced by attempt like a reply's.
LINE_ATTEMPT = 1
# ``held`` while the submit still announces the line: it keeps later lines behind it, but no one
# releases it yet (its segment.queued events come before any audio of it).
ANNOUNCING = "announcing"


def cut_line(persona: Persona, text: str) -> tuple[list[TaggedSegment], dict[str, Any]]:
    """The line's speakable segments (tags parsed with the persona's vocabulary) and its final reply.

    Raises a ``validation_error`` StageError when nothing in it can be spoken (only tags, say).
    """
    streamer = ReplyStreamer.for_persona(persona)
    segments = streamer.push(text) + streamer.finish()
    if not segments:
        raise StageError(ErrorCode.validation_error, "the text has nothing to speak once tags are removed")
    reply = {
        "text": " ".join(segment.text for segment in segments),
        "emotion": streamer.dominant_emotion.value,
        "motions": [motion for segment in segments for motion in segment.motions],
        "done": True,
    }
    return segments, reply


def submit_line(
    storage: Storage,
    events: EventLog,
    dispatcher: Dispatcher,
    settings: Settings,
    *,
    kind: JobKind,
    session_id: str | None,
    owner: str,
    persona: Persona,
    persona_version: str,
    text: str,
    callback_url: str | None = None,
) -> dict[str, Any]:
    """Store the line as a job with its segments, announce them, and send them to tts when its turn
    has come; if the queue is down the job is failed, then the error raised (as submit_turn does)."""
    segments, reply = cut_line(persona, text)
    job_id = new_id()
    if session_id is not None:
        events.client.set(held_lines_marker(session_id), b"1", ex=HELD_LINES_TTL_S)
    # The segments first: a line is released (by this call or a concurrent one) only once its job
    # exists, and then its tts tasks must find every segment.
    docs = [
        put_segment(
            storage,
            job_id=job_id,
            attempt=LINE_ATTEMPT,
            index=index,
            text=segment.text,
            emotion=segment.emotion,
            motions=list(segment.motions),
            final=index == len(segments) - 1,
            previous_emotion=segments[index - 1].emotion if index else None,
        )
        for index, segment in enumerate(segments)
    ]
    job = create_job(
        storage,
        job_id=job_id,
        session_id=session_id,
        kind=kind.value,
        persona=persona.id,
        persona_version=persona_version,
        input_text=text,
        callback_url=callback_url,
        owner=owner,
        extra={
            "llm_attempt": LINE_ATTEMPT,
            "reply": reply,
            "segments_total": len(segments),
            "held": ANNOUNCING,
        },
    )
    try:
        events.emit(EventType.job_queued, job)
        for doc in docs:
            segment = segment_out(settings, doc)
            events.emit(EventType.segment_queued, job, attempt=LINE_ATTEMPT, segment=segment)
        storage.jobs.update_one({"_id": job_id, "held": ANNOUNCING}, {"$set": {"held": True}})
        release_held_lines(storage, dispatcher, session_id, only=None if session_id else job["_id"])
    except Exception:
        fail_unqueued(storage, events, job["_id"])
        raise
    return job


def release_held_lines(
    storage: Storage, dispatcher: Dispatcher, session_id: str | None, *, only: str | None = None
) -> int:
    """Send the tts tasks of the held lines whose turn has come, oldest first; how many were sent.

    ``session_id`` None (with ``only``: that one job) is a session-less line: nothing to wait for.
    """
    query: dict[str, Any] = {"held": True, "status": JobStatus.queued.value}
    query.update({"_id": only} if only else {"session_id": session_id})
    released = 0
    for job in storage.jobs.find(query).sort([("created_at", 1), ("_id", 1)]):
        if job.get("session_id") is not None and waits_for_earlier_turn(storage, job):
            break  # and so does every later line: each waits for this one
        released += release_line(storage, dispatcher, job)
    return released


def waits_for_earlier_turn(storage: Storage, job: dict[str, Any]) -> bool:
    """Whether an earlier unfinished turn of the session has no final reply yet (its segments are
    still to come), or an earlier line is still held."""
    earlier = {
        "session_id": job["session_id"],
        "_id": {"$ne": job["_id"]},
        "status": {"$in": ACTIVE},
        "created_at": {"$lt": job["created_at"]},
        "$or": [{"reply.done": {"$ne": True}}, {"held": {"$in": [True, ANNOUNCING]}}],
    }
    return storage.jobs.count_documents(earlier, limit=1) == 1


def release_line(storage: Storage, dispatcher: Dispatcher, job: dict[str, Any]) -> bool:
    """Claim the held line (compare-and-set: one releaser wins) and send every segment to tts."""
    claimed = update_and_read(
        storage.jobs,
        {"_id": job["_id"], "held": True, "status": JobStatus.queued.value},
        {
            "$set": {
                "held": False,
                "status": JobStatus.running.value,
                "stage": Stage.tts.value,
                "updated_at": utcnow(),
            }
        },
    )
    if claimed is None:
        return False
    for index in range(int(claimed["segments_total"])):
        dispatcher.synthesize(claimed["_id"], LINE_ATTEMPT, index)
    return True
